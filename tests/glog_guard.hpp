// Force-included before every source of the test executables that use LibTorch. Debian's
// LibTorch is built with glog, whose CHECK macro would silently replace Catch2's CHECK (turning
// a failed test assertion into an abort). Including the logging header first and dropping its
// CHECK lets catch.hpp define the test macro; the include guard keeps glog from redefining it.
#include <c10/util/Logging.h>
#undef CHECK
