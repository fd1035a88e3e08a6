// Small models and synthetic data for the trial tests: everything here runs
// in well under a second per training epoch on one core.
#pragma once

#include <string>

#include "trials/finetune.h"

namespace cs::testing {

// hidden 16, 2 layers, 2 heads, ff 32, vocab 40, 32 positions.
EncoderConfig TinyEncoderConfig();
// `rows` sequences of length 6..16 over ids 5..39; label 1 when id 7 occurs
// more often than id 8 (learnable, not trivial). Same for the same seed.
EncodedPart SyntheticPart(int rows, uint64_t seed);
FineTuneData SyntheticData();
// Seeds torch with `seed` and builds a fresh classifier on TinyEncoderConfig.
SequenceClassifier TinyClassifier(int seed, double dropout = 0.1);
// A vocab.txt with the specials and a-z / ##a-##z, written into `dir`.
std::string WriteLetterVocab(const std::string& dir);

}  // namespace cs::testing
