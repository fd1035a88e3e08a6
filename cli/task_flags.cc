#include "cli/task_flags.h"

#include <filesystem>

#include "common/files.h"

namespace cs {

namespace po = boost::program_options;

std::string AbsolutePath(const std::string& path) {
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::absolute(path, error);
  return error ? path : absolute.string();
}

void AddTaskFlags(po::options_description* options) {
  options->add_options()
      ("task", po::value<std::string>()->default_value("imdb"), "imdb, fortunes, or a PATH.csv / PATH.jsonl file")
      ("text-column", po::value<std::string>(), "user files: the field holding the text (default: text)")
      ("label-column", po::value<std::string>(), "user files: the field holding the label (default: label)")
      ("train-size", po::value<int>(), "training examples (default: the task's, e.g. 4000 for imdb)")
      ("val-size", po::value<int>(), "validation examples")
      ("test-size", po::value<int>(), "test examples")
      ("data-size", po::value<std::string>(), "'full': every item, split 80/10/10 (instead of the sizes)")
      ("data-seed", po::value<uint64_t>()->default_value(0), "seeds the shuffle before the split");
}

Result<TaskSpec> TaskSpecFromFlags(const po::variables_map& vm) {
  TaskSpec spec = DefaultTaskSpec(vm["task"].as<std::string>());
  if (vm.count("text-column")) spec.text_column = vm["text-column"].as<std::string>();
  if (vm.count("label-column")) spec.label_column = vm["label-column"].as<std::string>();
  if (vm.count("data-size")) {
    const std::string size = vm["data-size"].as<std::string>();
    if (size != "full") return Status::InvalidArgument("--data-size: '" + size + "' is not 'full'");
    spec.size = DataSize::kFull;
  }
  auto read_size = [&](const char* flag, int* out) -> Status {
    if (!vm.count(flag)) return Status::Ok();
    if (vm.count("data-size")) {
      return Status::InvalidArgument(std::string("--") + flag + " and --data-size full exclude each other");
    }
    spec.size = DataSize::kFixed;  // a user file defaults to kFull; a size asks for fixed parts.
    const int value = vm[flag].as<int>();
    if (value <= 0) return Status::InvalidArgument(std::string("--") + flag + ": " + std::to_string(value) +
                                                   " is not a positive count");
    *out = value;
    return Status::Ok();
  };
  CS_RETURN_IF_ERROR(read_size("train-size", &spec.train_size));
  CS_RETURN_IF_ERROR(read_size("val-size", &spec.val_size));
  CS_RETURN_IF_ERROR(read_size("test-size", &spec.test_size));
  spec.data_seed = vm["data-seed"].as<uint64_t>();
  if (FileExists(spec.task)) spec.task = AbsolutePath(spec.task);  // a user file: named the same from any directory.
  return spec;
}

}  // namespace cs
