// libFuzzer itself is linked by `-sanitize=fuzzer`; this target only declares its driver entry for Swift.
#include "CLibFuzzer.h"
