/**
 * The guest initramfs: module ordering against a synthetic modules.dep and the host's real one, the newc record
 * layout, and real builds (contents read back with GNU cpio, caching, rebuild on input change, concurrent builders).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import {
  buildGuestImage,
  cpioRecord,
  extractVmlinux,
  GUEST_CACHE_MAX_AGE_MS,
  GUEST_MODULES,
  GUEST_SOURCE_DIR,
  type GuestCommandLineOptions,
  GuestNetMode,
  guestCommandLine,
  newestKernel,
  readModule,
  resolveModules,
  sharedLibraries,
} from "../../src/lab/guest-image.ts";

const MODULES_DEP = [
  "kernel/drivers/virtio/virtio_ring.ko:",
  "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko",
  "kernel/net/core/failover.ko:",
  "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko",
  "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko",
  "kernel/drivers/dca/dca.ko:",
  "kernel/drivers/i2c/algos/i2c-algo-bit.ko:",
  "kernel/drivers/net/ethernet/intel/igb/igb.ko: kernel/drivers/dca/dca.ko kernel/drivers/i2c/algos/i2c-algo-bit.ko",
  "kernel/drivers/net/ethernet/8390/8390.ko:",
  "kernel/drivers/net/ethernet/8390/ne2k-pci.ko.xz: kernel/drivers/net/ethernet/8390/8390.ko",
  "kernel/loop/a.ko: kernel/loop/b.ko",
  "kernel/loop/b.ko: kernel/loop/a.ko",
  "",
].join("\n");

const MODULES_BUILTIN = ["kernel/net/packet/af_packet.ko", "kernel/net/ipv6/ipv6.ko", ""].join("\n");

describe("resolveModules", () => {
  let dir = "";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "vmnt-modules-"));
    await writeFile(join(dir, "modules.dep"), MODULES_DEP);
    await writeFile(join(dir, "modules.builtin"), MODULES_BUILTIN);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const cases: { name: string; wanted: string[]; expected: string[] }[] = [
    {
      name: "virtio_net after virtio_ring, virtio and the failover pair",
      wanted: ["virtio_net"],
      expected: [
        "kernel/net/core/failover.ko",
        "kernel/drivers/net/net_failover.ko",
        "kernel/drivers/virtio/virtio_ring.ko",
        "kernel/drivers/virtio/virtio.ko",
        "kernel/drivers/net/virtio_net.ko",
      ],
    },
    {
      name: "igb after dca and i2c-algo-bit",
      wanted: ["igb"],
      expected: [
        "kernel/drivers/dca/dca.ko",
        "kernel/drivers/i2c/algos/i2c-algo-bit.ko",
        "kernel/drivers/net/ethernet/intel/igb/igb.ko",
      ],
    },
    {
      name: "ne2k-pci spelled with an underscore, compressed, after 8390",
      wanted: ["ne2k_pci"],
      expected: ["kernel/drivers/net/ethernet/8390/8390.ko", "kernel/drivers/net/ethernet/8390/ne2k-pci.ko.xz"],
    },
    { name: "built-in af_packet and ipv6 need nothing", wanted: ["af_packet", "ipv6"], expected: [] },
    {
      name: "a shared dependency is listed once",
      wanted: ["virtio", "virtio_ring", "virtio"],
      expected: ["kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio.ko"],
    },
  ];
  for (const c of cases) {
    test(`resolveModules orders ${c.name}`, async () => {
      assert.deepEqual(await resolveModules(dir, c.wanted), c.expected);
    });
  }

  test("resolveModules rejects an unknown module naming the chain", async () => {
    await assert.rejects(resolveModules(dir, ["nope"]), /Cannot find kernel module "nope"/);
  });

  test("resolveModules rejects a dependency cycle", async () => {
    await assert.rejects(resolveModules(dir, ["a"]), /depends on itself/);
  });
});

const kernelSkip = ((): string | undefined => {
  if (!existsSync("/bin/busybox")) return "busybox-static is missing";
  if (!existsSync("/usr/sbin/qemu-ga")) return "qemu-guest-agent is missing";
  if (spawnSync("cpio", ["--version"]).status !== 0) return "GNU cpio (to read the archive back) is missing";
  if (!existsSync("/boot") || !existsSync("/lib/modules")) return "no kernel in /boot";
  return undefined;
})();

test("resolveModules puts every dependency of the host's guest modules first", { skip: kernelSkip }, async () => {
  const base = `/lib/modules/${await newestKernel()}`;
  const order = await resolveModules(base, GUEST_MODULES);
  const deps = new Map<string, string[]>();
  for (const line of (await readFile(join(base, "modules.dep"), "utf8")).split("\n")) {
    const [path, rest] = line.split(":");
    if (path !== undefined && rest !== undefined) deps.set(path, rest.trim() === "" ? [] : rest.trim().split(/\s+/));
  }
  for (const [i, path] of order.entries())
    for (const dep of deps.get(path) ?? [])
      assert.ok(order.indexOf(dep) >= 0 && order.indexOf(dep) < i, `${dep} before ${path}`);
  for (const name of ["virtio_pci.ko", "virtio_net.ko", "virtio_console.ko", "igb.ko", "8139cp.ko", "pcnet32.ko"])
    assert.ok(
      order.some((p) => p.endsWith(`/${name}`)),
      `${name} is in the image`,
    );
});

test("cpioRecord writes the newc header, NUL-terminated name and 4-byte padding", () => {
  const record = Buffer.concat(cpioRecord({ name: "/a", mode: 0o100644, ino: 1, nlink: 1, data: Buffer.from("hi") }));
  const header = [
    "070701",
    "00000001", // ino
    "000081a4", // mode
    "00000000", // uid
    "00000000", // gid
    "00000001", // nlink
    "00000000", // mtime
    "00000002", // filesize
    "00000000", // devmajor
    "00000000", // devminor
    "00000000", // rdevmajor
    "00000000", // rdevminor
    "00000002", // namesize, with the NUL
    "00000000", // check
  ].join("");
  // 110-byte header + "a\0" is 112, already aligned; "hi" is padded to 4.
  assert.equal(record.toString("latin1"), `${header}a\0hi\0\0`);
});

const commandLines: { name: string; options: GuestCommandLineOptions; expected: string | RegExp }[] = [
  { name: "defaults", options: {}, expected: "console=ttyS0 quiet panic=-1 vmnet.net=dhcp4,dhcp6" },
  { name: "no network", options: { net: [] }, expected: "console=ttyS0 quiet panic=-1 vmnet.net=none" },
  {
    name: "DHCPv4 only, hostname, echo port, console",
    options: { net: [GuestNetMode.Dhcp4], hostname: "vm-1", echoPort: 7007, console: "hvc0" },
    expected: "console=hvc0 quiet panic=-1 vmnet.net=dhcp4 vmnet.hostname=vm-1 vmnet.echo=7007",
  },
  { name: "a hostname with a space", options: { hostname: "a b" }, expected: /Cannot use guest hostname "a b"/ },
  { name: "echo on the HTTP port", options: { echoPort: 80 }, expected: /Cannot use guest echo port "80"/ },
  { name: "echo port out of range", options: { echoPort: 65536 }, expected: /Cannot use guest echo port "65536"/ },
];
for (const c of commandLines) {
  test(`guestCommandLine: ${c.name}`, () => {
    if (typeof c.expected === "string") assert.equal(guestCommandLine(c.options), c.expected);
    else assert.throws(() => guestCommandLine(c.options), c.expected);
  });
}

test("extractVmlinux rejects a file without the x86 boot header", async () => {
  await assert.rejects(extractVmlinux(Buffer.alloc(4096)), /Cannot find the x86 boot protocol header/);
});

test("readModule decompresses .ko.xz and .ko.gz and passes .ko through", async () => {
  const dir = await mkdtemp(join(tmpdir(), "vmnt-ko-"));
  try {
    const bytes = Buffer.from("\x7fELF fake module bytes");
    await writeFile(join(dir, "m.ko"), bytes);
    execFileSync("xz", ["-k", join(dir, "m.ko")]);
    execFileSync("gzip", ["-k", join(dir, "m.ko")]);
    for (const name of ["m.ko", "m.ko.xz", "m.ko.gz"]) assert.deepEqual(await readModule(join(dir, name)), bytes, name);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

describe("guest scripts", { skip: existsSync("/bin/busybox") ? undefined : "busybox is missing" }, () => {
  let dir = "";
  let env: NodeJS.ProcessEnv = {};
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "vmnt-guest-scripts-"));
    await mkdir(join(dir, "run"));
    env = {
      PATH: process.env.PATH,
      VMNET_RUN: join(dir, "run"),
      VMNET_CONSOLE: join(dir, "console"),
      VMNET_SHARE: GUEST_SOURCE_DIR,
      VMNET_RESOLV: join(dir, "resolv.conf"),
    };
    // Another NIC's DHCPv4 lease, as udhcpc.script records it.
    await writeFile(
      join(dir, "run", "eth1.dhcp4"),
      ["interface=eth1", "ip=10.0.0.5", "dns=10.0.0.53", "domain=v4.test", "search=a.v4.test", ""].join("\n"),
    );
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const dhcpcdScript = (vars: Record<string, string>): void => {
    execFileSync("busybox", ["sh", join(GUEST_SOURCE_DIR, "dhcpcd.script")], { env: { ...env, ...vars } });
  };

  test("dhcpcd.script records a DHCPv6 lease, announces it and merges its DNS into resolv.conf", async () => {
    await writeFile(join(dir, "console"), "");
    dhcpcdScript({
      reason: "BOUND6",
      interface: "eth0",
      new_dhcp6_ia_na1_ia_addr1: "fd00::10",
      new_dhcp6_ia_na1_ia_addr2: "fd00::11",
      new_dhcp6_name_servers: "fd00::53 fd00::54",
      new_dhcp6_domain_search: "v6.test",
      new_dhcp6_server_id: "000100012a",
    });
    const lease: unknown = JSON.parse(await readFile(join(dir, "run", "eth0.dhcp6.json"), "utf8"));
    assert.deepEqual(lease, {
      interface: "eth0",
      reason: "BOUND6",
      addresses: ["fd00::10", "fd00::11"],
      dns: ["fd00::53", "fd00::54"],
      search: ["v6.test"],
    });
    assert.equal(
      await readFile(join(dir, "console"), "utf8"),
      "vmnet-guest: lease6 eth0 fd00::10\nvmnet-guest: lease6 eth0 fd00::11\n",
    );
    assert.equal(
      await readFile(join(dir, "resolv.conf"), "utf8"),
      "search v4.test a.v4.test v6.test\nnameserver 10.0.0.53\nnameserver fd00::53\nnameserver fd00::54\n",
    );
  });

  test("dhcpcd.script drops a released DHCPv6 lease and its DNS", async () => {
    dhcpcdScript({ reason: "RELEASE6", interface: "eth0" });
    assert.equal(existsSync(join(dir, "run", "eth0.dhcp6.json")), false);
    assert.equal(await readFile(join(dir, "resolv.conf"), "utf8"), "search v4.test a.v4.test\nnameserver 10.0.0.53\n");
  });

  test("dhcpcd.script records router advertisement details", async () => {
    dhcpcdScript({
      reason: "ROUTERADVERT",
      interface: "eth0",
      nd1_from: "fe80::1",
      nd1_prefix_information1_prefix: "fd00::/64",
    });
    const ra = await readFile(join(dir, "run", "eth0.ra"), "utf8");
    assert.match(ra, /^nd1_from=fe80::1$/m);
    assert.match(ra, /^nd1_prefix_information1_prefix=fd00::\/64$/m);
  });
});

/** `cpio -itv` lines of a gzip'd archive. */
function listArchive(initrd: string): Promise<string[]> {
  return readFile(initrd).then((gz) => {
    const out = execFileSync("cpio", ["-itv", "--quiet"], { input: gunzipSync(gz), maxBuffer: 64 << 20 });
    return out.toString("utf8").split("\n");
  });
}

/** One file's bytes out of a gzip'd archive. */
async function extract(initrd: string, path: string): Promise<Buffer> {
  const gz = await readFile(initrd);
  return execFileSync("cpio", ["-i", "--quiet", "--to-stdout", path], { input: gunzipSync(gz), maxBuffer: 64 << 20 });
}

describe("buildGuestImage", { skip: kernelSkip }, () => {
  // One cache directory for the whole suite, so the 60+ MB vmlinux is extracted once; each test makes its initrd new
  // by building from its own variant of the init script.
  let dir = "";
  let cacheDir = "";
  const variant = async (tag: string): Promise<string> => {
    const path = join(dir, `init-${tag}`);
    await writeFile(path, `${await readFile(join(GUEST_SOURCE_DIR, "init"), "utf8")}\n# variant ${tag}\n`);
    return path;
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "vmnt-guest-image-"));
    cacheDir = join(dir, "cache");
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("buildGuestImage builds once, then serves the cache, and rebuilds when the init script changes", async () => {
    const initScript = await variant("cache");
    const first = await buildGuestImage({ cacheDir, initScript });
    assert.equal(first.built, true);
    assert.ok(first.initrd.startsWith(cacheDir));
    assert.equal(first.bzImage, `/boot/vmlinuz-${first.kernelVersion}`);
    const firstStat = await stat(first.initrd);

    const second = await buildGuestImage({ cacheDir, initScript });
    assert.equal(second.built, false);
    assert.deepEqual({ ...second, built: true }, first);
    assert.equal((await stat(second.initrd)).mtimeMs, firstStat.mtimeMs);

    await writeFile(initScript, `${await readFile(initScript, "utf8")}# changed\n`);
    const third = await buildGuestImage({ cacheDir, initScript });
    assert.equal(third.built, true);
    assert.notEqual(third.hash, first.hash);
    assert.match((await extract(third.initrd, "init")).toString("utf8"), /# changed\n$/);
  });

  test("buildGuestImage prunes initrds and temp files older than a day, keeping recent ones", async () => {
    await mkdir(cacheDir, { recursive: true });
    const old = new Date(Date.now() - GUEST_CACHE_MAX_AGE_MS - 60_000);
    const stale = ["initrd-0.0.0-stale.cpio.gz", "initrd-x.cpio.gz.1.ab.tmp"];
    for (const name of [...stale, "initrd-0.0.0-recent.cpio.gz", "unrelated-file"]) {
      await writeFile(join(cacheDir, name), "");
      if (stale.includes(name) || name === "unrelated-file") await utimes(join(cacheDir, name), old, old);
    }
    const image = await buildGuestImage({ cacheDir, initScript: await variant("prune") });
    assert.equal(image.built, true);
    const files = await readdir(cacheDir);
    for (const name of stale) assert.equal(files.includes(name), false, `${name} is pruned`);
    for (const name of ["initrd-0.0.0-recent.cpio.gz", "unrelated-file"])
      assert.equal(files.includes(name), true, `${name} stays`);
    for (const name of ["initrd-0.0.0-recent.cpio.gz", "unrelated-file"]) await rm(join(cacheDir, name));
  });

  test("buildGuestImage packs init, busybox applets, qemu-ga with its libraries and ordered modules", async () => {
    const image = await buildGuestImage({ cacheDir, initScript: await variant("contents") });
    const lines = await listArchive(image.initrd);
    const entry = (path: string): string | undefined =>
      lines.find((l) => l.endsWith(` ${path}`) || l.includes(` ${path} -> `));

    assert.match(entry("init") ?? "", /^-rwxr-xr-x/);
    assert.match(entry("dev/console") ?? "", /^crw------- .* 5,\s+1 /);
    assert.match(entry("bin/busybox") ?? "", /^-rwxr-xr-x/);
    // Where `busybox --list-full` puts them, which is where init's PATH finds them.
    for (const applet of [
      "bin/sh",
      "sbin/insmod",
      "sbin/ip",
      "usr/bin/nc",
      "sbin/udhcpc",
      "sbin/sysctl",
      "usr/bin/setsid",
    ])
      assert.ok(
        lines.some((l) => l.endsWith(` ${applet} -> /bin/busybox`)),
        `${applet} links to busybox`,
      );
    assert.match(entry("usr/sbin/qemu-ga") ?? "", /^-rwxr-xr-x/);
    for (const lib of await sharedLibraries("/usr/sbin/qemu-ga"))
      assert.ok(entry(lib.slice(1)) !== undefined, `${lib} is in the image`);
    for (const name of ["udhcpc.script", "dhcpcd.script", "dhcpcd.conf", "http-page", "resolv-update"])
      assert.ok(entry(`usr/share/vmnet/${name}`) !== undefined, `${name} is in the image`);
    assert.equal(
      lines.some((l) => l.endsWith(".md")),
      false,
      "documentation stays out of the image",
    );

    const modules = (await extract(image.initrd, "etc/vmnet/modules")).toString("utf8").trim().split("\n");
    const index = (name: string): number => modules.findIndex((m) => m.endsWith(`/${name}`));
    assert.ok(index("virtio_ring.ko") >= 0 && index("virtio_ring.ko") < index("virtio.ko"));
    assert.ok(index("virtio.ko") < index("virtio_pci.ko"));
    assert.ok(index("failover.ko") < index("net_failover.ko") && index("net_failover.ko") < index("virtio_net.ko"));
    assert.ok(index("8390.ko") < index("ne2k-pci.ko"));
    for (const module of modules) assert.ok(entry(module.slice(1)) !== undefined, `${module} is in the image`);
  });

  test("buildGuestImage boots the uncompressed vmlinux (PVH) when the kernel has CONFIG_PVH", async () => {
    const image = await buildGuestImage({ cacheDir, initScript: await variant("contents") });
    const config = await readFile(`/boot/config-${image.kernelVersion}`, "utf8").catch(() => "");
    assert.equal(image.bzImage, `/boot/vmlinuz-${image.kernelVersion}`);
    if (!/^CONFIG_PVH=y$/m.test(config)) {
      assert.equal(image.kernel, image.bzImage);
      return;
    }
    assert.ok(image.kernel.startsWith(cacheDir));
    const head = Buffer.alloc(4);
    const file = await open(image.kernel);
    try {
      await file.read(head, 0, 4, 0);
    } finally {
      await file.close();
    }
    assert.equal(head.toString("hex"), "7f454c46");
  });

  test("buildGuestImage lets concurrent builders share one cache entry without temp files left over", async () => {
    const initScript = await variant("concurrent");
    const images = await Promise.all([1, 2, 3].map(() => buildGuestImage({ cacheDir, initScript })));
    assert.equal(new Set(images.map((i) => i.initrd)).size, 1);
    // The initrd and, for a PVH kernel, the extracted vmlinux; no temp files.
    const files = await readdir(cacheDir);
    const initrd = images[0]?.initrd ?? "";
    assert.equal(files.filter((f) => f === initrd.slice(cacheDir.length + 1)).length, 1);
    assert.deepEqual(
      files.filter((f) => !f.startsWith("initrd-") && !f.startsWith("vmlinux-")),
      [],
    );
    // Identical inputs give identical bytes (mtime 0, sequential inodes), so whichever rename lands last is the same.
    const before = await readFile(initrd);
    await rm(initrd);
    const rebuilt = await buildGuestImage({ cacheDir, initScript });
    assert.equal(rebuilt.built, true);
    assert.ok(gunzipSync(await readFile(rebuilt.initrd)).equals(gunzipSync(before)));
  });
});
