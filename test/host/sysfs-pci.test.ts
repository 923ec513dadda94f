import assert from "node:assert/strict";
import { rm, symlink, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  discoverVfs,
  listPciAddresses,
  listVfs,
  readPciFunction,
  vfioGroupDevice,
  vfioProblems,
} from "../../src/host/sysfs-pci.ts";
import { buildSysfsFixture, FIXTURE } from "../fixtures/sysfs/build.ts";

describe("sysfs-pci against the fixture tree", () => {
  let root = "";
  let cleanup: () => Promise<void> = async () => {};
  before(async () => {
    ({ root, cleanup } = await buildSysfsFixture());
  });
  after(async () => {
    await cleanup();
  });

  it("listPciAddresses lists every function under bus/pci/devices, sorted", async () => {
    assert.deepEqual(await listPciAddresses({ root }), [
      FIXTURE.virtio,
      FIXTURE.unbound,
      FIXTURE.pf,
      ...FIXTURE.vfioVfs,
      FIXTURE.netdevVf,
    ]);
  });

  const functions = [
    {
      name: "the PF: ixgbe, netdev, SR-IOV counters, no physfn",
      address: FIXTURE.pf,
      want: {
        address: FIXTURE.pf,
        vendor: "0x8086",
        device: "0x10fb",
        driver: "ixgbe",
        iommuGroup: 40,
        netdevs: ["ens1f0"],
        totalVfs: 63,
        numVfs: 3,
      },
    },
    {
      name: "a VF bound to vfio-pci: physfn, group, no netdev",
      address: FIXTURE.vfioVfs[1],
      want: {
        address: FIXTURE.vfioVfs[1],
        vendor: "0x8086",
        device: "0x10ed",
        driver: "vfio-pci",
        iommuGroup: 42,
        netdevs: [],
        physfn: FIXTURE.pf,
      },
    },
    {
      name: "a VF bound to ixgbevf keeps its netdev",
      address: FIXTURE.netdevVf,
      want: {
        address: FIXTURE.netdevVf,
        vendor: "0x8086",
        device: "0x10ed",
        driver: "ixgbevf",
        iommuGroup: 43,
        netdevs: ["ens1f0v2"],
        physfn: FIXTURE.pf,
      },
    },
    {
      name: "an unbound function has no driver and no group",
      address: FIXTURE.unbound,
      want: { address: FIXTURE.unbound, vendor: "0x8086", device: "0x0d57", netdevs: [] },
    },
    {
      name: "an upper-case address is canonicalised",
      address: "0000:3B:10.0",
      want: {
        address: FIXTURE.vfioVfs[0],
        vendor: "0x8086",
        device: "0x10ed",
        driver: "vfio-pci",
        iommuGroup: 41,
        netdevs: [],
        physfn: FIXTURE.pf,
      },
    },
  ];
  for (const c of functions) {
    it(`readPciFunction reads ${c.name}`, async () => {
      assert.deepEqual(await readPciFunction(c.address, { root }), c.want);
    });
  }

  it("readPciFunction rejects a missing function and a malformed address", async () => {
    await assert.rejects(readPciFunction("0000:3b:11.0", { root }), {
      name: "RangeError",
      message: 'Cannot read PCI function "0000:3b:11.0": no such device in sysfs',
    });
    await assert.rejects(readPciFunction("3b:10.0", { root }), { name: "SyntaxError" });
  });

  it("listVfs follows virtfnN links in index order and tags each VF with its PF", async () => {
    const vfs = await listVfs(FIXTURE.pf, { root });
    assert.deepEqual(
      vfs.map((v) => [v.vfIndex, v.address, v.driver, v.physfn, v.pfNetdevs]),
      [
        [0, FIXTURE.vfioVfs[0], "vfio-pci", FIXTURE.pf, ["ens1f0"]],
        [1, FIXTURE.vfioVfs[1], "vfio-pci", FIXTURE.pf, ["ens1f0"]],
        [2, FIXTURE.netdevVf, "ixgbevf", FIXTURE.pf, ["ens1f0"]],
      ],
    );
  });

  it("listVfs of a function without SR-IOV is empty", async () => {
    assert.deepEqual(await listVfs(FIXTURE.virtio, { root }), []);
  });

  it("discoverVfs finds the three VFs and not the PF or the other functions", async () => {
    assert.deepEqual(
      (await discoverVfs({ root })).map((v) => v.address),
      [...FIXTURE.vfioVfs, FIXTURE.netdevVf],
    );
  });

  it("vfioProblems accepts vfio-pci VFs and names the driver of the others", async () => {
    const table = [
      { address: FIXTURE.vfioVfs[0], want: [] },
      { address: FIXTURE.netdevVf, want: [`PCI function "${FIXTURE.netdevVf}" is bound to "ixgbevf", not "vfio-pci"`] },
      {
        address: FIXTURE.unbound,
        want: [
          `PCI function "${FIXTURE.unbound}" is bound to no driver, not "vfio-pci"`,
          `PCI function "${FIXTURE.unbound}" has no IOMMU group`,
        ],
      },
    ];
    for (const c of table) assert.deepEqual(vfioProblems(await readPciFunction(c.address, { root })), c.want);
  });

  it("vfioGroupDevice names /dev/vfio/<group>", async () => {
    assert.equal(vfioGroupDevice(await readPciFunction(FIXTURE.vfioVfs[1], { root })), "/dev/vfio/42");
    assert.equal(vfioGroupDevice(await readPciFunction(FIXTURE.unbound, { root })), undefined);
  });

  it("a rebind is seen on the next read (driver link replaced)", async () => {
    const driverLink = join(root, "devices/pci0000:3a/0000:3a:00.0", FIXTURE.netdevVf, "driver");
    await unlink(driverLink);
    await symlink("../../../../bus/pci/drivers/vfio-pci", driverLink);
    await rm(join(root, "devices/pci0000:3a/0000:3a:00.0", FIXTURE.netdevVf, "net"), { recursive: true });
    const f = await readPciFunction(FIXTURE.netdevVf, { root });
    assert.equal(f.driver, "vfio-pci");
    assert.deepEqual(f.netdevs, []);
    assert.deepEqual(vfioProblems(f), []);
  });

  it("a malformed counter file is a SyntaxError", async () => {
    const file = join(root, "devices/pci0000:3a/0000:3a:00.0", FIXTURE.pf, "sriov_numvfs");
    await writeFile(file, "three\n");
    await assert.rejects(readPciFunction(FIXTURE.pf, { root }), {
      name: "SyntaxError",
      message: 'Cannot parse sriov_numvfs "three": expected a decimal number',
    });
    await writeFile(file, "3\n");
  });
});

describe("sysfs-pci on this host", () => {
  it("reads every function of the real /sys without error", async () => {
    for (const a of await listPciAddresses()) {
      const f = await readPciFunction(a);
      assert.equal(f.address, a);
      assert.match(f.vendor, /^0x[0-9a-f]{4}$/u);
    }
  });
});
