// Include this instead of <doctest/doctest.h> in a test that uses libtorch:
// libtorch pulls in glog, whose CHECK/CHECK_EQ/... macros (abort on failure,
// one argument) would otherwise replace doctest's. Torch comes first, glog's
// macros are dropped, then doctest defines its own.
#pragma once

#include <torch/script.h>
#include <torch/torch.h>

#undef CHECK
#undef CHECK_EQ
#undef CHECK_NE
#undef CHECK_LT
#undef CHECK_LE
#undef CHECK_GT
#undef CHECK_GE
#undef CHECK_NOTNULL

#include <doctest/doctest.h>
