/* devices.h: the legacy platform devices ember emulates and the ports they use. */
#ifndef EMBER_DEVICES_H
#define EMBER_DEVICES_H

#include "vm.h"

#define EXIT_PORT 0x501      /* 1-byte write of N: the VM ends, ember exits N */
#define BOOT_TIME_PORT 0x3f0 /* write of 123: guest userspace has started */
#define BOOT_TIME_MAGIC 123
#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64
#define I8042_CMD_RESET 0xfe

/* Each registers its ports on vm->pio; 0 or -1. */
int exit_ports_register(struct vm *vm);
int i8042_register(struct vm *vm);
int acpi_pm_register(struct vm *vm);

#endif
