// libFuzzer's driver, for a main() of our own (SwiftPM gives every executable target its own main).
#ifndef IDAMOE_FUZZ_DRIVER_H
#define IDAMOE_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif
