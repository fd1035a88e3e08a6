// Fuzzes the user CSV loader (trials/dataset.h, LoadTask on a .csv file with
// the default "text"/"label" columns): quoting, columns, labels, UTF-8, the
// 80/10/10 split. Accepted or refused, never a crash; an accepted split has
// every label in range and no empty part.
#include <string>

#include "tests/fuzz/dataset_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cs::fuzz::LoadUserFile("reviews.csv", "text", "label", data, size);
  return 0;
}
