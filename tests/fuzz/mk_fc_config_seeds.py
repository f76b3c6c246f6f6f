#!/usr/bin/env python3
# mk_fc_config_seeds.py: writes the seed inputs in tests/fuzz/corpus/fc_config/
# for fuzz_fc_config (input layout: see the top of fuzz_fc_config.c: records
# separated by NUL bytes, each an op byte, a path-ID byte and a JSON body).
# Run from anywhere.
import json, os
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'fc_config')
os.makedirs(out, exist_ok=True)
FILE, BOOT, MACHINE, PATCH, DRIVE, NET, LOGGER, METRICS = range(8)
IDS = ['rootfs', 'data', 'scratch', 'eth0', 'eth1', 'x_1']
def rec(op, body, id='rootfs'):
    if op == FILE:
        return bytes([op]) + json.dumps(body).encode()
    return bytes([op, IDS.index(id)]) + (body if isinstance(body, bytes) else json.dumps(body).encode())
def seq(*recs): return b'\0'.join(recs)
boot = {'kernel_image_path': '/k/vmlinux', 'initrd_path': '/k/initrd', 'boot_args': 'console=ttyS0 reboot=k'}
root = {'drive_id': 'rootfs', 'path_on_host': '/img/root', 'is_root_device': True, 'is_read_only': True,
        'partuuid': '1234-01', 'cache_type': 'Writeback', 'io_engine': 'Async', 'rate_limiter': None}
data = {'drive_id': 'data', 'path_on_host': '/img/data', 'is_root_device': False}
eth0 = {'iface_id': 'eth0', 'host_dev_name': 'tap0', 'guest_mac': '06:00:ac:10:00:02', 'mtu': 1500,
        'rx_rate_limiter': None, 'tx_rate_limiter': None}
doc = {'boot-source': boot, 'drives': [data, root], 'machine-config': {'vcpu_count': 2, 'mem_size_mib': 512},
       'network-interfaces': [eth0], 'logger': {'log_path': '/l', 'level': 'Warning', 'show_level': True,
       'show_log_origin': False, 'module': 'vmm'}, 'metrics': {'metrics_path': '/m', 'emit_id': True},
       'vsock': None, 'pmem': []}
seeds = {
 'file_full': rec(FILE, doc),
 'file_minimal': rec(FILE, {'boot-source': {'kernel_image_path': '/k'}}),
 'file_vsock': rec(FILE, {'boot-source': {'kernel_image_path': '/k'}, 'vsock': {'guest_cid': 3, 'uds_path': '/v'}}),
 'api_sequence': seq(rec(BOOT, boot), rec(MACHINE, {'vcpu_count': 4, 'mem_size_mib': 1024, 'smt': False}),
                     rec(DRIVE, data, 'data'), rec(DRIVE, root), rec(NET, eth0, 'eth0'),
                     rec(NET, {'iface_id': 'eth1', 'host_dev_name': 'tap1'}, 'eth1'),
                     rec(PATCH, {'mem_size_mib': 2048}), rec(LOGGER, {'level': 'debug'}),
                     rec(METRICS, {'metrics_path': '/m'})),
 'root_swap': seq(rec(BOOT, {'kernel_image_path': '/k'}), rec(DRIVE, data, 'data'),
                  rec(DRIVE, {'drive_id': 'scratch', 'path_on_host': '/s', 'is_root_device': False}, 'scratch'),
                  rec(DRIVE, dict(data, is_root_device=True), 'data'),
                  rec(DRIVE, dict(root, is_root_device=True))),
 'refusals': seq(rec(MACHINE, {'vcpu_count': 2, 'mem_size_mib': 512, 'smt': True}),
                 rec(DRIVE, dict(data, rate_limiter={'bandwidth': {'size': 1, 'refill_time': 1}}), 'data'),
                 rec(NET, dict(eth0, iface_id='eth1'), 'eth1'), rec(BOOT, b'{"kernel_image_path":'),
                 rec(METRICS, {'metrics_path': '/m'}), rec(METRICS, {'metrics_path': '/n'})),
}
for k, v in seeds.items():
    open(os.path.join(out, k), 'wb').write(v)
    print(k, len(v))
