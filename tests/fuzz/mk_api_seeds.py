#!/usr/bin/env python3
# mk_api_seeds.py: writes the seed inputs in tests/fuzz/corpus/api/ for
# fuzz_api (input layout: see the top of fuzz_api.c: records of a method byte,
# a path, a body). Run from anywhere.
import os
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'api')
os.makedirs(out, exist_ok=True)
GET, PUT, PATCH, OTHER = 0, 1, 2, 3
def rec(m, path, body=b''):
    p = path.lstrip(b'/')
    return bytes([m, len(p)]) + p + len(body).to_bytes(2, 'little') + body
seeds = {
 'configure_and_start': rec(PUT, b'/boot-source', b'{"kernel_image_path":"/vmlinux","boot_args":"console=ttyS0"}') +
     rec(PUT, b'/machine-config', b'{"vcpu_count":2,"mem_size_mib":256}') +
     rec(PATCH, b'/machine-config', b'{"mem_size_mib":512}') +
     rec(PUT, b'/drives/rootfs', b'{"drive_id":"rootfs","path_on_host":"/r.ext4","is_root_device":true,"is_read_only":false}') +
     rec(PUT, b'/network-interfaces/eth0', b'{"iface_id":"eth0","host_dev_name":"tap0","guest_mac":"06:00:ac:10:00:02"}') +
     rec(PUT, b'/actions', b'{"action_type":"InstanceStart"}') + rec(GET, b'/'),
 'refusals': rec(PUT, b'/vsock', b'{"guest_cid":3}') + rec(GET, b'/nothing') + rec(OTHER, b'/') +
     rec(PUT, b'/machine-config', b'{"vcpu_count":0,"mem_size_mib":1}') + rec(PUT, b'/machine-config', b'{') +
     rec(PATCH, b'/vm', b'{"state":"Paused"}') + rec(PUT, b'/actions', b'{"action_type":"Nope"}') +
     rec(GET, b'/version', b'{}') + rec(PUT, b'/boot-source'),
 'after_start': rec(PUT, b'/drives/scratch', b'{"drive_id":"scratch","path_on_host":"/s.img","is_root_device":false,"is_read_only":false}') +
     rec(0x80 | PATCH, b'/drives/scratch', b'{"drive_id":"scratch","path_on_host":"/big.img"}') +
     rec(PATCH, b'/drives/scratch', b'{"drive_id":"scratch","rate_limiter":{}}') +
     rec(PATCH, b'/network-interfaces/eth0', b'{"iface_id":"eth0","rx_rate_limiter":null}') +
     rec(PUT, b'/actions', b'{"action_type":"SendCtrlAltDel"}') + rec(PATCH, b'/vm', b'{"state":"Resumed"}'),
 'snapshots': rec(PUT, b'/snapshot/load', b'{"snapshot_path":"/s","mem_backend":{"backend_type":"File","backend_path":"/m"},"resume_vm":true,"network_overrides":[{"iface_id":"eth0","host_dev_name":"tap1"}]}') +
     rec(PUT, b'/snapshot/load', b'{"snapshot_path":"/s","mem_file_path":"/m","enable_diff_snapshots":false}') +
     rec(PUT, b'/snapshot/load', b'{"snapshot_path":"/s","mem_backend":{"backend_type":"Uffd","backend_path":"/u"}}') +
     rec(0x80 | PUT, b'/snapshot/create', b'{"snapshot_type":"Full","snapshot_path":"/s","mem_file_path":"/m"}') +
     rec(PUT, b'/snapshot/create', b'{"snapshot_type":"Diff","snapshot_path":"/s","mem_file_path":"/m"}'),
 'logger_metrics': rec(PUT, b'/logger', b'{"log_path":"/log","level":"Debug","show_level":true}') +
     rec(PUT, b'/metrics', b'{"metrics_path":"/metrics"}') + rec(GET, b'/vm/config') + rec(GET, b'/machine-config'),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)
