/* A fake libnvidia-ml: the few NVML entry points carbonsweep calls, with
   devices the tests script through fake_nvml_* (looked up with dlsym on the
   same handle, so the state is shared with the code under test).
   In another process (the carbonsweep binary, CARBONSWEEP_NVML_LIBRARY=this
   file), FAKE_NVML_DEVICES=N gives N devices that each draw a steady
   FAKE_NVML_WATTS (default 100) from nvmlInit on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FAKE_MAX_DEVICES 8
#define NVML_SUCCESS 0
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_NOT_SUPPORTED 3

struct FakeDevice {
  int energy_supported;
  int power_supported;
  unsigned long long energy_mj;
  unsigned int power_mw;
};

static struct FakeDevice devices[FAKE_MAX_DEVICES];
static unsigned int device_count = 0;
static int initialized = 0;
static int scripted = 0;        /* a test in this process set the devices. */
static double steady_watts = 0; /* FAKE_NVML_DEVICES mode: every device's draw. */
static double started = 0;

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

void fake_nvml_reset(unsigned int count) {
  scripted = 1;
  steady_watts = 0;
  memset(devices, 0, sizeof(devices));
  device_count = count < FAKE_MAX_DEVICES ? count : FAKE_MAX_DEVICES;
}
void fake_nvml_set(unsigned int index, int energy_supported, int power_supported,
                   unsigned long long energy_mj, unsigned int power_mw) {
  if (index >= FAKE_MAX_DEVICES) return;
  devices[index].energy_supported = energy_supported;
  devices[index].power_supported = power_supported;
  devices[index].energy_mj = energy_mj;
  devices[index].power_mw = power_mw;
}
int fake_nvml_initialized(void) { return initialized; }

int nvmlInit_v2(void) {
  const char* count = getenv("FAKE_NVML_DEVICES");
  if (!scripted && count != NULL) {
    const char* watts = getenv("FAKE_NVML_WATTS");
    device_count = (unsigned)atoi(count) < FAKE_MAX_DEVICES ? (unsigned)atoi(count) : FAKE_MAX_DEVICES;
    steady_watts = watts != NULL ? atof(watts) : 100.0;
    for (unsigned int i = 0; i < device_count; ++i) devices[i].energy_supported = devices[i].power_supported = 1;
    if (started == 0) started = now_seconds();
  }
  initialized = 1;
  return NVML_SUCCESS;
}
int nvmlShutdown(void) { initialized = 0; return NVML_SUCCESS; }
int nvmlDeviceGetCount_v2(unsigned int* count) { *count = device_count; return NVML_SUCCESS; }
int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void** device) {
  if (index >= device_count) return NVML_ERROR_INVALID_ARGUMENT;
  *device = &devices[index];
  return NVML_SUCCESS;
}
int nvmlDeviceGetName(void* device, char* name, unsigned int length) {
  snprintf(name, length, "Fake GPU %d", (int)((struct FakeDevice*)device - devices));
  return NVML_SUCCESS;
}
int nvmlDeviceGetTotalEnergyConsumption(void* device, unsigned long long* energy_mj) {
  struct FakeDevice* fake = (struct FakeDevice*)device;
  if (!fake->energy_supported) return NVML_ERROR_NOT_SUPPORTED;
  *energy_mj = steady_watts > 0 ? (unsigned long long)((now_seconds() - started) * steady_watts * 1000) : fake->energy_mj;
  return NVML_SUCCESS;
}
int nvmlDeviceGetPowerUsage(void* device, unsigned int* power_mw) {
  struct FakeDevice* fake = (struct FakeDevice*)device;
  if (!fake->power_supported) return NVML_ERROR_NOT_SUPPORTED;
  *power_mw = steady_watts > 0 ? (unsigned int)(steady_watts * 1000) : fake->power_mw;
  return NVML_SUCCESS;
}
const char* nvmlErrorString(int code) {
  return code == NVML_ERROR_NOT_SUPPORTED ? "Not Supported" : "Fake NVML error";
}
