#include "tests/trials/trainer_test_util.h"

#include <fstream>
#include <random>

namespace cs::testing {

EncoderConfig TinyEncoderConfig() {
  EncoderConfig config;
  config.vocab_size = 40;
  config.hidden = 16;
  config.layers = 2;
  config.heads = 2;
  config.ff = 32;
  config.max_positions = 32;
  config.dropout = 0.1;
  config.pad_id = 0;
  return config;
}

EncodedPart SyntheticPart(int rows, uint64_t seed) {
  std::mt19937_64 random(seed);
  EncodedPart part;
  part.texts.width = 16;
  for (int r = 0; r < rows; ++r) {
    const int length = 6 + static_cast<int>(random() % 11);
    int sevens = 0, eights = 0;
    for (int t = 0; t < part.texts.width; ++t) {
      int id = 0;
      if (t < length) id = t == 0 ? 2 : t == length - 1 ? 3 : 5 + static_cast<int>(random() % 35);
      sevens += id == 7;
      eights += id == 8;
      part.texts.ids.push_back(id);
    }
    part.texts.lengths.push_back(length);
    part.labels.push_back(sevens > eights ? 1 : 0);
  }
  return part;
}

FineTuneData SyntheticData() {
  FineTuneData data;
  data.train = SyntheticPart(96, 1);
  data.validation = SyntheticPart(32, 2);
  data.test = SyntheticPart(32, 3);
  data.num_classes = 2;
  return data;
}

SequenceClassifier TinyClassifier(int seed, double dropout) {
  torch::manual_seed(seed);
  return SequenceClassifier(MakeEncoder(TinyEncoderConfig()).value(), 2, dropout);
}

std::string WriteLetterVocab(const std::string& dir) {
  const std::string path = dir + "/vocab.txt";
  std::ofstream out(path);
  out << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
  for (char c = 'a'; c <= 'z'; ++c) out << c << "\n";
  for (char c = 'a'; c <= 'z'; ++c) out << "##" << c << "\n";
  for (char c : std::string(".,!?'\"-:;()0123456789")) out << c << "\n";
  return path;
}

}  // namespace cs::testing
