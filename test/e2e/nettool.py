"""Small network tools the e2e tests run inside guest and pod namespaces (busybox nc has no UDP or -k here).

serve [--tcp P,P] [--udp P,P]   answer "vm:<port>" on TCP and "vm-udp:<port>" on UDP (both families); log each peer
connect HOST PORT [--udp]       print the answer, or "refused" / "timeout"
peer PORT                       accept one TCP connection (both families), print the peer address, exit
frame IFACE SRC_MAC SRC_IP DST_IP PAYLOAD   send one raw broadcast IPv4/UDP frame (port 9999) with any source
"""
import select
import socket
import struct
import sys


def listeners(tcp, udp):
    socks = {}
    for port in tcp:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::", port))
        s.listen(16)
        socks[s] = ("tcp", port)
    for port in udp:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", port))
        socks[s] = ("udp", port)
    return socks


def plain(addr):
    return addr[7:] if addr.startswith("::ffff:") else addr


def serve(args):
    tcp, udp = [], []
    for i in range(0, len(args), 2):
        ports = [int(p) for p in args[i + 1].split(",") if p]
        (tcp if args[i] == "--tcp" else udp).extend(ports)
    socks = listeners(tcp, udp)
    print("listening", flush=True)
    while True:
        ready, _, _ = select.select(list(socks), [], [])
        for s in ready:
            kind, port = socks[s]
            if kind == "tcp":
                c, a = s.accept()
                print(f"tcp {port} from {plain(a[0])}", flush=True)
                c.sendall(f"vm:{port}\n".encode())
                c.close()
            else:
                data, a = s.recvfrom(2048)
                print(f"udp {port} from {plain(a[0])} {data.decode(errors='replace').strip()}", flush=True)
                s.sendto(f"vm-udp:{port}\n".encode(), a)


def connect(args):
    host, port, udp = args[0], int(args[1]), "--udp" in args
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        if udp:
            s.sendto(b"hello", (host, port))
            print(s.recvfrom(2048)[0].decode().strip())
        else:
            s.connect((host, port))
            print(s.recv(2048).decode().strip())
    except ConnectionRefusedError:
        print("refused")
    except socket.timeout:
        print("timeout")
    except OSError as e:
        print(f"error {e.errno}")


def peer(args):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", int(args[0])))
    s.listen(1)
    print("listening", flush=True)
    c, a = s.accept()
    print(f"peer {plain(a[0])}", flush=True)
    c.close()


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def frame(args):
    iface, src_mac, src_ip, dst_ip, payload = args
    data = payload.encode()
    udp = struct.pack("!HHHH", 9999, 9999, 8 + len(data), 0) + data
    iph = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, socket.inet_aton(src_ip), socket.inet_aton(dst_ip)
    )
    iph = iph[:10] + struct.pack("!H", checksum(iph)) + iph[12:]
    eth = b"\xff" * 6 + bytes.fromhex(src_mac.replace(":", "")) + b"\x08\x00"
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    s.send(eth + iph + udp)


{"serve": serve, "connect": connect, "peer": peer, "frame": frame}[sys.argv[1]](sys.argv[2:])
