// Fuzzes the user JSONL loader (trials/dataset.h, LoadTask on a .jsonl file
// with the "body"/"topic" fields of examples/topics.jsonl): one JSON object a
// line, string or integer labels, UTF-8, the 80/10/10 split. Accepted or
// refused, never a crash; an accepted split has every label in range.
#include <string>

#include "tests/fuzz/dataset_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cs::fuzz::LoadUserFile("topics.jsonl", "body", "topic", data, size);
  return 0;
}
