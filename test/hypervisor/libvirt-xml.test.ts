import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { DomainXmlOptions } from "../../src/hypervisor/libvirt-xml.ts";
import { domainXml, interfaceUpdateXml, passtPortForwards, renderXml } from "../../src/hypervisor/libvirt-xml.ts";
import type { NetworkPlan } from "../../src/plan/plan.ts";
import { nic, plan } from "./fixtures.ts";

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), "golden");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

function validatorSkipReason(): string | undefined {
  const r = spawnSync("virt-xml-validate", ["--help"], { encoding: "utf8" });
  if (r.error !== undefined) return "virt-xml-validate is missing (libvirt-clients)";
  // virt-xml-validate is a shell script around xmllint (libxml2-utils), which libvirt-clients does not pull in.
  const x = spawnSync("xmllint", ["--version"], { encoding: "utf8" });
  return x.error !== undefined ? "xmllint is missing (libxml2-utils), which virt-xml-validate runs" : undefined;
}

interface XmlCase {
  readonly name: string;
  readonly plan: NetworkPlan;
  readonly options: DomainXmlOptions;
  /** libvirt 9.0's schema predates vhost-user interfaces with a passt backend (no unix socket source). */
  readonly schemaTooOld?: boolean;
}

const cases: XmlCase[] = [
  { name: "masquerade-default", plan: plan(nic("default")), options: { name: "vm" } },
  {
    name: "bridge-multiqueue-boot-pci-acpi-down",
    plan: plan(
      nic("default", { queues: 4, bootOrder: 1, pciAddress: "0000:00:03.0", acpiIndex: 1 }),
      nic("blue", {
        binding: "bridge",
        tap: "tap16477688c0e",
        mac: "02:00:00:00:00:02",
        linkState: "down",
        pciAddress: "0000:05:00.0",
      }),
    ),
    options: { name: "vm", vcpus: 4 },
  },
  {
    name: "models-emulated-transitional",
    plan: plan(
      nic("default", { transitional: true }),
      nic("e1000", { model: "e1000", tap: "tap1", mac: "02:00:00:00:00:02" }),
      nic("rtl", { model: "rtl8139", tap: "tap2", mac: "02:00:00:00:00:03", bootOrder: 2 }),
    ),
    options: { name: "vm" },
  },
  {
    name: "launch-security",
    plan: plan(nic("default", { bootOrder: 1 })),
    options: { name: "vm", launchSecurity: true },
  },
  { name: "s390x", plan: plan(nic("default", { model: "e1000" })), options: { name: "vm", arch: "s390x" } },
  {
    name: "sriov-hostdev",
    plan: plan(nic("default")),
    options: {
      name: "vm",
      sriov: [
        { name: "sriov1", hostPciAddress: "0000:3b:02.4", pciAddress: "0000:06:00.0", bootOrder: 2 },
        { name: "sriov2", hostPciAddress: "0000:3b:02.5" },
      ],
    },
  },
  {
    name: "passt-all-ports",
    plan: plan(),
    options: { name: "vm", passt: [{ name: "default", podInterfaceName: "eth0", ports: [] }] },
    schemaTooOld: true,
  },
  {
    name: "passt-ports-istio",
    plan: plan(),
    options: {
      name: "vm",
      passt: [
        {
          name: "default",
          podInterfaceName: "eth0",
          mac: "02:00:00:00:00:0a",
          pciAddress: "0000:00:02.0",
          ports: [{ port: 80 }, { protocol: "UDP", port: 53 }, { protocol: "tcp", port: 443 }],
          istio: true,
        },
      ],
      memfd: false,
    },
    schemaTooOld: true,
  },
];

describe("domainXml (golden files in test/hypervisor/golden; UPDATE_GOLDEN=1 rewrites them)", () => {
  for (const c of cases) {
    it(`domainXml matches ${c.name}.xml`, () => {
      const xml = domainXml(c.plan, c.options);
      const file = join(GOLDEN, `${c.name}.xml`);
      if (UPDATE) {
        mkdirSync(GOLDEN, { recursive: true });
        writeFileSync(file, xml);
      }
      assert.equal(xml, readFileSync(file, "utf8"));
    });
  }

  const skip = validatorSkipReason();
  for (const c of cases) {
    it(`virt-xml-validate accepts ${c.name}.xml`, {
      skip: skip ?? (c.schemaTooOld ? "libvirt 9.0 schema lacks vhostuser+passt" : false),
    }, () => {
      const dir = mkdtempSync(join(tmpdir(), "vmnt-xml-"));
      try {
        const file = join(dir, "domain.xml");
        writeFileSync(file, domainXml(c.plan, c.options));
        const r = spawnSync("virt-xml-validate", [file, "domain"], { encoding: "utf8" });
        assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("virt-xml-validate rejects a domain whose interface lost its type, so the check above can fail", { skip }, () => {
    const dir = mkdtempSync(join(tmpdir(), "vmnt-xml-"));
    try {
      const file = join(dir, "domain.xml");
      writeFileSync(
        file,
        domainXml(plan(nic("default")), { name: "vm" }).replace('type="ethernet"', 'type="nonsense"'),
      );
      assert.notEqual(spawnSync("virt-xml-validate", [file, "domain"], { encoding: "utf8" }).status, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("interfaceUpdateXml lowercases the whole interface XML", () => {
    const xml = interfaceUpdateXml(nic("Blue", { linkState: "down" }));
    assert.equal(xml, xml.toLowerCase());
    assert.match(xml, /<link state="down"\/>/u);
    assert.match(xml, /<alias name="ua-blue"\/>/u);
  });

  const forwards: { name: string; ports: { protocol?: string; port: number }[]; istio?: boolean; want: string }[] = [
    { name: "no ports", ports: [], want: '<portForward proto="tcp"/>|<portForward proto="udp"/>' },
    {
      name: "udp only",
      ports: [{ protocol: "udp", port: 53 }],
      want: '<portForward proto="udp"><range start="53"/></portForward>',
    },
    {
      name: "sctp ignored",
      ports: [{ protocol: "SCTP", port: 9 }],
      want: '<portForward proto="tcp"/>|<portForward proto="udp"/>',
    },
    {
      name: "istio without ports",
      ports: [],
      istio: true,
      want: `<portForward proto="tcp">${[15000, 15001, 15004, 15006, 15008, 15009, 15020, 15021, 15053, 15090].map((p) => `<range start="${p}" exclude="yes"/>`).join("")}</portForward>`,
    },
  ];
  for (const f of forwards) {
    it(`passtPortForwards for ${f.name}`, () => {
      const got = passtPortForwards({ ports: f.ports, istio: f.istio ?? false })
        .map((e) => renderXml(e).replace(/\n\s*/gu, ""))
        .join("|");
      assert.equal(got, f.want);
    });
  }

  it("renderXml escapes attribute and text values", () => {
    assert.equal(
      renderXml({ name: "a", attrs: [["b", '"<&>']], text: "x<y" }),
      '<a b="&quot;&lt;&amp;&gt;">x&lt;y</a>',
    );
  });
});
