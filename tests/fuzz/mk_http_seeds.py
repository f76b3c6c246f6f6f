#!/usr/bin/env python3
# mk_http_seeds.py: writes the seed inputs in tests/fuzz/corpus/http/ for
# fuzz_http (input layout: see the top of fuzz_http.c: a chunking byte, a body
# limit byte, then what the client sends). Run from anywhere.
import os
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'http')
os.makedirs(out, exist_ok=True)
WHOLE, BYTES, DEFAULT = 0, 1, 0x80
def seed(chunking, limit, *requests): return bytes([chunking, limit]) + b''.join(requests)
def put(path, body, extra=b''):
    return b'PUT ' + path + b' HTTP/1.1\r\nHost: localhost\r\n' + extra + \
        b'Content-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(body) + body
get_mc = b'GET /machine-config HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n'
drive = b'{"drive_id":"rootfs","path_on_host":"/rootfs.ext4","is_root_device":true,"is_read_only":false}'
seeds = {
 'get': seed(WHOLE, DEFAULT, get_mc),
 'put_byte_by_byte': seed(BYTES, DEFAULT, put(b'/drives/rootfs', drive)),
 'put_chunks': seed(7, DEFAULT, put(b'/boot-source', b'{"kernel_image_path":"/vmlinux","boot_args":"console=ttyS0"}')),
 'pipelined_then_close': seed(13, DEFAULT, b'\r\n', get_mc, put(b'/actions', b'{"action_type":"InstanceStart"}'),
     b'PATCH /vm?x=1 HTTP/1.1\r\nContent-Length: 18\r\n\r\n{"state":"Paused"}',
     b'GET / HTTP/1.1\r\nConnection: close\r\n\r\n', get_mc),
 'expect_continue': seed(64, DEFAULT, put(b'/mmds', b'{"k":"' + b'v' * 1200 + b'"}', b'Expect: 100-continue\r\n')),
 'http10': seed(WHOLE, DEFAULT, b'GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n'),
 'small_limit': seed(3, 2, put(b'/a', b'0123456789abcdef'), put(b'/a', b'0123456789abcdefg')),
 'chunked': seed(WHOLE, DEFAULT, b'PUT /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n'),
 'huge_length': seed(WHOLE, DEFAULT, b'PUT /a HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n'),
 'two_lengths': seed(BYTES, DEFAULT, b'PUT /a HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\n{}'),
 'no_length': seed(WHOLE, DEFAULT, b'PATCH /vm HTTP/1.1\r\n\r\n{"state":"Resumed"}'),
 'bare_lf': seed(WHOLE, DEFAULT, b'GET / HTTP/1.1\nHost: x\n\n'),
 'absolute_form': seed(WHOLE, DEFAULT, b'GET http://localhost/ HTTP/1.1\r\n\r\n'),
 'version': seed(WHOLE, DEFAULT, b'GET / HTTP/2.0\r\n\r\n'),
 'control': seed(WHOLE, DEFAULT, b'GET / HTTP/1.1\r\nX-A: a\x00b\r\n\r\n'),
 'long_head': seed(200, DEFAULT, b'GET / HTTP/1.1\r\nX-Pad: ' + b'p' * 8200 + b'\r\n\r\n'),
}
for k, v in seeds.items():
    with open(os.path.join(out, k), 'wb') as f:
        f.write(v)
