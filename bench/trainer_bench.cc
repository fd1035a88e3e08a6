// trainer_bench: training throughput (sequences/s) and peak memory of the
// C++ trial loop (trials/finetune.h FineTune, the code `carbonsweep trial`
// runs) on synthetic token ids, for a side-by-side comparison with the same
// model and loop in Python PyTorch (bench/python/trainer_ref.py). Run both
// through bench/trainer_bench.sh; it writes the data file both read.
//
//   trainer_bench --data FILE [--threads 2] [--batch 32] [--layers 4] [--dropout 0.1]
//   trainer_bench --write-data FILE [--rows 1024] [--seq 128] [--vocab 8000]
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>

#include "trials/finetune.h"
#include "trials/malloc_tuning.h"

namespace {

std::string Flag(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return argv[i + 1];
  }
  return fallback;
}

// Synthetic IMDB-like rows: "label length id id ..." per line; 85% of rows
// fill the window (84% of IMDB reviews exceed 128 tokens), the rest are shorter.
int WriteData(const std::string& path, int rows, int seq, int vocab) {
  std::mt19937_64 random(7);
  std::ofstream out(path);
  for (int r = 0; r < rows; ++r) {
    int length = (random() % 100) < 85 ? seq : static_cast<int>(16 + random() % (seq - 16));
    out << (random() % 2) << " " << length;
    for (int t = 0; t < length; ++t) out << " " << (t == 0 ? 2 : t == length - 1 ? 3 : 5 + random() % (vocab - 5));
    out << "\n";
  }
  return out ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (Flag(argc, argv, "write-data", "") != "") {
    return WriteData(Flag(argc, argv, "write-data", ""), std::stoi(Flag(argc, argv, "rows", "1024")),
                     std::stoi(Flag(argc, argv, "seq", "128")), std::stoi(Flag(argc, argv, "vocab", "8000")));
  }
  const std::string data_path = Flag(argc, argv, "data", "");
  if (data_path.empty()) {
    std::cerr << "usage: trainer_bench --data FILE [--threads N] [--batch B] [--layers L] [--dropout P] [--vocab V]\n";
    return 2;
  }
  const int threads = std::stoi(Flag(argc, argv, "threads", "2"));
  torch::set_num_threads(threads);
  at::set_num_interop_threads(1);
  if (Flag(argc, argv, "malloc", "tuned") == "tuned") cs::KeepFreedMemoryForReuse();

  cs::TrialParams params;
  params.batch_size = std::stoi(Flag(argc, argv, "batch", "32"));
  params.dropout = std::stod(Flag(argc, argv, "dropout", "0.1"));
  params.epochs = 1;
  params.learning_rate = 1e-3;
  params.max_seq_len = std::stoi(Flag(argc, argv, "seq", "128"));

  cs::FineTuneData data;
  std::ifstream in(data_path);
  std::string line;
  data.train.texts.width = params.max_seq_len;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    int label, length;
    fields >> label >> length;
    data.train.labels.push_back(label);
    data.train.texts.lengths.push_back(length);
    for (int t = 0; t < params.max_seq_len; ++t) {
      int id = 0;
      if (t < length) fields >> id;
      data.train.texts.ids.push_back(id);
    }
  }
  data.num_classes = 2;

  cs::EncoderConfig config;
  config.vocab_size = std::stoi(Flag(argc, argv, "vocab", "8000"));
  config.layers = std::stoi(Flag(argc, argv, "layers", "4"));
  config.dropout = params.dropout;
  torch::manual_seed(0);
  cs::SequenceClassifier model(cs::MakeEncoder(config).value(), data.num_classes, params.dropout);
  cs::FineTuneOptions options;
  double sequences_per_second = 0;
  options.on_event = [&](const nlohmann::json& event) {
    if (event["event"] == "epoch") sequences_per_second = event["train_sequences_per_second"].get<double>();
  };
  auto outcome = cs::FineTune(model, data, params, options);
  if (!outcome.ok()) {
    std::cerr << outcome.status().message() << "\n";
    return 1;
  }
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  std::printf("cpp seq_per_s=%.2f max_rss_mb=%.1f rows=%zu batch=%d threads=%d dropout=%.2f\n", sequences_per_second,
              usage.ru_maxrss / 1024.0, data.train.labels.size(), params.batch_size, threads, params.dropout);
  return 0;
}
