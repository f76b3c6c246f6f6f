/* pci_addr.c: parsing PCI addresses (pci_addr.h). */
#include <stdio.h>
#include <string.h>

#include "vmm/lib/pci_addr.h"

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
		: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* n hex digits at s, into *v. */
static bool hexfield(const char *s, int n, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		int d = hexval(s[i]);
		if (d < 0)
			return false;
		*v = *v << 4 | (unsigned)d;
	}
	return true;
}

bool pci_bdf_parse(const char *s, char out[PCI_BDF_LEN])
{
	unsigned dom = 0, bus, dev, fn;
	size_t n = strlen(s);
	if (n == 12) {
		if (!hexfield(s, 4, &dom) || s[4] != ':')
			return false;
		s += 5;
	} else if (n != 7) {
		return false;
	}
	if (!hexfield(s, 2, &bus) || s[2] != ':' || !hexfield(s + 3, 2, &dev) || s[5] != '.' ||
	    !hexfield(s + 6, 1, &fn) || dev > 0x1f || fn > 7)
		return false;
	snprintf(out, PCI_BDF_LEN, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
	return true;
}

int pci_bdf_add(char (*list)[PCI_BDF_LEN], unsigned *n, unsigned max, const char *v,
		struct errbuf *err)
{
	char bdf[PCI_BDF_LEN];
	if (!pci_bdf_parse(v, bdf)) {
		err_set(err, "--vfio: '%s' is not a PCI address (DDDD:BB:DD.F, e.g. 0000:01:00.1)", v);
		return -1;
	}
	for (unsigned i = 0; i < *n; i++) {
		if (strcmp(list[i], bdf) == 0) {
			err_set(err, "--vfio %s: given twice", bdf);
			return -1;
		}
	}
	if (*n >= max) {
		err_set(err, "--vfio: at most %u devices", max);
		return -1;
	}
	memcpy(list[(*n)++], bdf, PCI_BDF_LEN);
	return 0;
}
