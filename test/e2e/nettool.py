"""Small network tools the e2e tests run inside guest and pod namespaces (busybox nc has no UDP or -k here).

serve [--tcp P,P] [--udp P,P]   answer "vm:<port>" on TCP and "vm-udp:<port>" on UDP (both families); log each peer
connect HOST PORT [--udp]       print the answer, or "refused" / "timeout"
peer PORT                       accept one TCP connection (both families), print the peer address, exit
frame IFACE SRC_MAC SRC_IP DST_IP PAYLOAD   send one raw IPv4/UDP (or IPv6/UDP) frame to port 9999 with any source
arp IFACE SRC_MAC SENDER_IP TARGET_IP   send one broadcast ARP request with any sender address
discover IFACE CHADDR           broadcast 3 raw DHCPDISCOVERs for CHADDR, print how many BOOTREPLYs came back
solicit6 IFACE                  send a DHCPv6 Information-request to ff02::1:2, print "answered" or "silent"
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


def ipv4_udp(src_ip, dst_ip, sport, dport, data):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    iph = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, socket.inet_aton(src_ip), socket.inet_aton(dst_ip)
    )
    return iph[:10] + struct.pack("!H", checksum(iph)) + iph[12:] + udp


def ipv6_udp(src_ip, dst_ip, sport, dport, data):
    src, dst = socket.inet_pton(socket.AF_INET6, src_ip), socket.inet_pton(socket.AF_INET6, dst_ip)
    length = 8 + len(data)
    pseudo = src + dst + struct.pack("!I3xB", length, 17)
    udp = struct.pack("!HHHH", sport, dport, length, 0) + data
    udp = udp[:6] + struct.pack("!H", checksum(pseudo + udp) or 0xFFFF) + udp[8:]
    return struct.pack("!IHBB", 6 << 28, length, 17, 64) + src + dst + udp


def frame(args):
    iface, src_mac, src_ip, dst_ip, payload = args
    v6 = ":" in src_ip
    packet = (ipv6_udp if v6 else ipv4_udp)(src_ip, dst_ip, 9999, 9999, payload.encode())
    eth = b"\xff" * 6 + bytes.fromhex(src_mac.replace(":", "")) + (b"\x86\xdd" if v6 else b"\x08\x00")
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    s.send(eth + packet)


def arp(args):
    iface, src_mac, sender_ip, target_ip = args
    mac = bytes.fromhex(src_mac.replace(":", ""))
    body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + socket.inet_aton(sender_ip) + bytes(6)
    body += socket.inet_aton(target_ip)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    s.send(b"\xff" * 6 + mac + b"\x08\x06" + body)


def discover(args):
    import time

    iface, chaddr = args
    mac = bytes.fromhex(chaddr.replace(":", ""))
    bootp = bytes([1, 1, 6, 0]) + b"\x12\x34\x56\x78" + bytes(20) + mac + bytes(10) + bytes(192)
    options = b"\x63\x82\x53\x63" + bytes([53, 1, 1, 255])
    packet = ipv4_udp("0.0.0.0", "255.255.255.255", 68, 67, bootp + options)
    eth = b"\xff" * 6 + bytes.fromhex("02aabbccddee") + b"\x08\x00"
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    r = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    r.bind((iface, 0))
    r.settimeout(0.2)
    answers = 0
    for _ in range(3):
        s.send(eth + packet)
        end = time.time() + 1
        while time.time() < end:
            try:
                f = r.recv(2048)
            except socket.timeout:
                continue
            # IPv4 UDP to port 68 carrying a BOOTREPLY (op 2).
            if len(f) > 42 and f[23] == 17 and f[36:38] == b"\x00\x44" and f[42] == 2:
                answers += 1
    print(answers)


def solicit6(args):
    idx = socket.if_nametoindex(args[0])
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.bind(("::", 546, 0, idx))
    u.settimeout(1.5)
    u.sendto(bytes.fromhex("0b654321" + "00170000"), ("ff02::1:2", 547, 0, idx))
    try:
        u.recvfrom(1500)
        print("answered")
    except socket.timeout:
        print("silent")


{"serve": serve, "connect": connect, "peer": peer, "frame": frame, "arp": arp, "discover": discover, "solicit6": solicit6}[sys.argv[1]](sys.argv[2:])
