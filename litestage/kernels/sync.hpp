#pragma once
// Honest clocks on a device that queues work: wait for it before reading the time.

#include <c10/core/Device.h>

namespace litestage {

// Blocks until queued device work is done (no-op on CPU). Call before reading a clock.
void synchronize(const c10::Device& device);

}  // namespace litestage
