/* cli.h: ember's command-line options. A table of options drives parsing and
 * --help, so devices (--disk, --net, --vfio) are one entry each. */
#ifndef EMBER_CLI_H
#define EMBER_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include "pci_addr.h"
#include "util.h"
#include "../virtio/blk.h"
#include "../virtio/net.h"

enum console_mode { CONSOLE_STDIO, CONSOLE_NONE, CONSOLE_FILE };

#define CLI_DEFAULT_MEM_MIB 256
#define CLI_MAX_CPUS 254
#define CLI_MAX_DISKS 16
#define CLI_MAX_NETS 8
#define CLI_MAX_VFIO 8

struct ember_opts {
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	unsigned cpus;
	uint64_t mem_mib;
	enum console_mode console;
	const char *console_path;
	bool boot_time;
	bool seccomp_off; /* --seccomp off */
	bool kernel_irqchip; /* --irqchip kernel */
	struct blk_opts disks[CLI_MAX_DISKS]; /* --disk, in order: vda, vdb, ... */
	unsigned ndisks;
	struct net_opts nets[CLI_MAX_NETS];  /* --net, in order: eth0, eth1, ... */
	unsigned nnets;
	char vfio[CLI_MAX_VFIO][PCI_BDF_LEN]; /* --vfio, canonical PCI addresses */
	unsigned nvfio;
	char **guest_argv; /* words after `--` */
	size_t guest_argc;
	bool help, version;
};

/* Parse argv into o. Returns 0, or -1 with one line in err. */
int cli_parse(int argc, char **argv, struct ember_opts *o, struct errbuf *err);
void cli_usage(FILE *f);

#endif
