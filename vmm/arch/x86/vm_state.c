/* vm_state.c: capture and restore an x86 VM's KVM state outside its vCPUs,
 * and its byte encoding (see vm_state.h). As Firecracker's x86_64 VmState
 * (src/vmm/src/arch/x86_64/vm.rs): KVM_GET_CLOCK / KVM_SET_CLOCK, and with
 * KVM's IRQ chip KVM_GET_IRQCHIP for both PICs and the IOAPIC and
 * KVM_GET_PIT2. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/arch/x86/vm_state.h"
#include "vmm/core/state_codec.h"

static int kfail(struct errbuf *err, const char *what)
{
	err_set(err, "%s: %s", what, strerror(errno));
	return -1;
}

int x86_vm_state_save(const struct vm *vm, struct x86_vm_state *s, struct errbuf *err)
{
	memset(s, 0, sizeof(*s));
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &s->clock) < 0)
		return kfail(err, "KVM_GET_CLOCK");
	s->mem = vm->mem.layout;
	if (!vm->kernel_irqchip)
		return 0;
	s->irqchip_kernel = 1;
	for (unsigned id = KVM_IRQCHIP_PIC_MASTER; id <= KVM_IRQCHIP_IOAPIC; id++) {
		struct kvm_irqchip c = {.chip_id = id};
		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &c) < 0)
			return kfail(err, "KVM_GET_IRQCHIP");
		if (id == KVM_IRQCHIP_IOAPIC)
			s->ioapic = c.chip.ioapic;
		else
			s->pic[id] = c.chip.pic;
	}
	if (ioctl(vm->vm_fd, KVM_GET_PIT2, &s->pit) < 0)
		return kfail(err, "KVM_GET_PIT2");
	return 0;
}

int x86_vm_state_restore(const struct vm *vm, const struct x86_vm_state *s, struct errbuf *err)
{
	const struct mem_layout *l = &vm->mem.layout;
	if (s->mem.ram_size != l->ram_size || s->mem.low_size != l->low_size ||
	    s->mem.high_size != l->high_size) {
		err_set(err, "the saved VM had %llu MiB of RAM, this one has %llu MiB",
			(unsigned long long)(s->mem.ram_size >> 20),
			(unsigned long long)(l->ram_size >> 20));
		return -1;
	}
	if (!!s->irqchip_kernel != vm->kernel_irqchip) {
		err_set(err, "the saved VM had --irqchip %s, this one has --irqchip %s",
			s->irqchip_kernel ? "kernel" : "split", vm->kernel_irqchip ? "kernel" : "split");
		return -1;
	}
	/* The saved value, with no flags: not KVM_CLOCK_REALTIME, which would
	 * add the time that passed since (live migration's choice); a restored
	 * guest goes on from where it stopped, as after a pause. */
	struct kvm_clock_data c = {.clock = s->clock.clock};
	if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &c) < 0)
		return kfail(err, "KVM_SET_CLOCK");
	if (!s->irqchip_kernel)
		return 0;
	for (unsigned id = KVM_IRQCHIP_PIC_MASTER; id <= KVM_IRQCHIP_IOAPIC; id++) {
		struct kvm_irqchip ic = {.chip_id = id};
		if (id == KVM_IRQCHIP_IOAPIC)
			ic.chip.ioapic = s->ioapic;
		else
			ic.chip.pic = s->pic[id];
		if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &ic) < 0)
			return kfail(err, "KVM_SET_IRQCHIP");
	}
	struct kvm_pit_state2 pit = s->pit;
	if (ioctl(vm->vm_fd, KVM_SET_PIT2, &pit) < 0)
		return kfail(err, "KVM_SET_PIT2");
	return 0;
}

enum { SEC_CLOCK = 1, SEC_MEMORY, SEC_IRQCHIP };

#define CL(m) CODEC_FIELD(struct kvm_clock_data, m)
static const struct codec_field clock_f[] = {
	CL(clock), CL(flags), CL(pad0), CL(realtime), CL(host_tsc),
	CODEC_ARRAY(struct kvm_clock_data, pad),
};

#define ML(m) CODEC_FIELD(struct mem_layout, m)
static const struct codec_field mem_f[] = {ML(ram_size), ML(low_size), ML(high_size)};

#define PIC(m) CODEC_FIELD(struct kvm_pic_state, m)
static const struct codec_field pic_f[] = {
	PIC(last_irr), PIC(irr), PIC(imr), PIC(isr), PIC(priority_add), PIC(irq_base),
	PIC(read_reg_select), PIC(poll), PIC(special_mask), PIC(init_state), PIC(auto_eoi),
	PIC(rotate_on_auto_eoi), PIC(special_fully_nested_mode), PIC(init4), PIC(elcr),
	PIC(elcr_mask),
};

#define IOA(m) CODEC_FIELD(struct kvm_ioapic_state, m)
static const struct codec_field ioapic_f[] = {
	IOA(base_address), IOA(ioregsel), IOA(id), IOA(irr), IOA(pad),
	CODEC_ARRAY(struct kvm_ioapic_state, redirtbl), /* each entry as its u64 bits */
};

#define CH(m) CODEC_FIELD(struct kvm_pit_channel_state, m)
static const struct codec_field pit_channel_f[] = {
	CH(count), CH(latched_count), CH(count_latched), CH(status_latched), CH(status),
	CH(read_state), CH(write_state), CH(write_latch), CH(rw_mode), CH(mode), CH(bcd),
	CH(gate), CH(count_load_time),
};
static const struct codec_field pit_tail_f[] = {
	CODEC_FIELD(struct kvm_pit_state2, flags), CODEC_ARRAY(struct kvm_pit_state2, reserved),
};

static const struct codec_layout clock_l = CODEC_LAYOUT(clock_f), mem_l = CODEC_LAYOUT(mem_f),
	pic_l = CODEC_LAYOUT(pic_f), ioapic_l = CODEC_LAYOUT(ioapic_f),
	pit_channel_l = CODEC_LAYOUT(pit_channel_f), pit_tail_l = CODEC_LAYOUT(pit_tail_f);

#define PIT_CHANNELS 3
_Static_assert(sizeof(((struct kvm_pit_state2 *)0)->channels) ==
	       PIT_CHANNELS * sizeof(struct kvm_pit_channel_state), "the PIT has 3 channels");

static size_t chips_bytes(void)
{
	return 2 * codec_layout_bytes(&pic_l) + codec_layout_bytes(&ioapic_l) +
	       PIT_CHANNELS * codec_layout_bytes(&pit_channel_l) + codec_layout_bytes(&pit_tail_l);
}

size_t x86_vm_state_encode(const struct x86_vm_state *s, uint8_t *buf, size_t cap)
{
	if (s->irqchip_kernel > 1)
		return 0;
	struct codec_writer w;
	cw_begin(&w, buf, cap, X86_VM_STATE_MAGIC, X86_VM_STATE_VERSION);
	cw_section(&w, SEC_CLOCK);
	cw_struct(&w, &s->clock, &clock_l);
	cw_section(&w, SEC_MEMORY);
	cw_struct(&w, &s->mem, &mem_l);
	cw_section(&w, SEC_IRQCHIP);
	cw_u32(&w, s->irqchip_kernel);
	if (s->irqchip_kernel) {
		cw_struct(&w, &s->pic[0], &pic_l);
		cw_struct(&w, &s->pic[1], &pic_l);
		cw_struct(&w, &s->ioapic, &ioapic_l);
		for (unsigned i = 0; i < PIT_CHANNELS; i++)
			cw_struct(&w, &s->pit.channels[i], &pit_channel_l);
		cw_struct(&w, &s->pit, &pit_tail_l);
	}
	return cw_finish(&w);
}

int x86_vm_state_decode(const uint8_t *buf, size_t len, struct x86_vm_state *s,
			struct errbuf *err)
{
	memset(s, 0, sizeof(*s));
	struct codec_reader r;
	size_t n;
	if (cr_begin(&r, buf, len, X86_VM_STATE_MAGIC, X86_VM_STATE_VERSION, "VM state", err))
		goto bad;
	if (cr_section(&r, SEC_CLOCK, "clock", &n) ||
	    cr_expect(&r, n, codec_layout_bytes(&clock_l)) || cr_struct(&r, &s->clock, &clock_l))
		goto bad;
	if (cr_section(&r, SEC_MEMORY, "memory", &n) || cr_expect(&r, n, codec_layout_bytes(&mem_l)) ||
	    cr_struct(&r, &s->mem, &mem_l))
		goto bad;
	struct mem_layout want;
	layout_init(&want, s->mem.ram_size);
	if (s->mem.ram_size < LAYOUT_MIN_MEM || s->mem.low_size != want.low_size ||
	    s->mem.high_size != want.high_size) {
		cr_fail(&r, "RAM of %#llx bytes as %#llx below the MMIO hole and %#llx above 4 GiB: not a layout ember makes",
			(unsigned long long)s->mem.ram_size, (unsigned long long)s->mem.low_size,
			(unsigned long long)s->mem.high_size);
		goto bad;
	}
	if (cr_section(&r, SEC_IRQCHIP, "irqchip", &n) || cr_u32(&r, &s->irqchip_kernel))
		goto bad;
	if (s->irqchip_kernel > 1) {
		cr_fail(&r, "IRQ chip kind %u (0 split, 1 kernel)", s->irqchip_kernel);
		goto bad;
	}
	if (cr_expect(&r, n, 4 + (s->irqchip_kernel ? chips_bytes() : 0)))
		goto bad;
	if (s->irqchip_kernel) {
		if (cr_struct(&r, &s->pic[0], &pic_l) || cr_struct(&r, &s->pic[1], &pic_l) ||
		    cr_struct(&r, &s->ioapic, &ioapic_l))
			goto bad;
		for (unsigned i = 0; i < PIT_CHANNELS; i++)
			if (cr_struct(&r, &s->pit.channels[i], &pit_channel_l))
				goto bad;
		if (cr_struct(&r, &s->pit, &pit_tail_l))
			goto bad;
	}
	if (cr_end(&r))
		goto bad;
	return 0;
bad:
	memset(s, 0, sizeof(*s));
	return -1;
}
