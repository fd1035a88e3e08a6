// The body of the two user-file fuzzers (dataset_csv_fuzzer, dataset_jsonl_fuzzer):
// writes the input as a user data file and loads it as `carbonsweep run
// --task FILE` would. Fuzzers only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/fuzz_util.h"
#include "trials/dataset.h"

namespace cs::fuzz {

inline void LoadUserFile(const std::string& file_name, const std::string& text_column,
                         const std::string& label_column, const uint8_t* data, size_t size) {
  TaskSpec spec = DefaultTaskSpec(WriteScratchFile(file_name, Text(data, size)));
  spec.text_column = text_column;
  spec.label_column = label_column;
  Result<TaskSplit> split = LoadTask(spec);
  if (!split.ok()) return;
  CS_FUZZ_CHECK(split->num_classes() >= 2, "an accepted data set has fewer than two classes");
  for (const LabeledTexts* part : {&split->train, &split->validation, &split->test}) {
    CS_FUZZ_CHECK(part->texts.size() == part->labels.size(), "a part has as many labels as texts");
    for (int label : part->labels) {
      CS_FUZZ_CHECK(label >= 0 && label < split->num_classes(), "a label id is out of range");
    }
  }
  (void)split->provenance.dump();  // stored with every trial: must be valid JSON text.
}

}  // namespace cs::fuzz
