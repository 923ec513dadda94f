import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { applySubdomain, parseResolvConf } from "../../src/plan/pod-facts.ts";

describe("parseResolvConf", () => {
  const cases: {
    name: string;
    text: string;
    subdomain?: string;
    v4: string[];
    v6: string[];
    search: string[];
    options?: string[];
  }[] = [
    {
      name: "a typical cluster resolv.conf",
      text: "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n",
      v4: ["10.96.0.10"],
      v6: [],
      search: ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"],
      options: ["ndots:5"],
    },
    {
      name: "nameservers split by family",
      text: "nameserver 10.0.0.1\nnameserver fd00::10\nnameserver 10.0.0.2\n",
      v4: ["10.0.0.1", "10.0.0.2"],
      v6: ["fd00::10"],
      search: ["cluster.local"],
    },
    {
      name: "only lines with exactly 2 fields count",
      text: "nameserver 10.0.0.1 extra\nnameserver\nnameserver 10.0.0.3\n",
      v4: ["10.0.0.3"],
      v6: [],
      search: ["cluster.local"],
    },
    {
      name: "no nameserver defaults to 8.8.8.8",
      text: "search example.com\n",
      v4: ["8.8.8.8"],
      v6: [],
      search: ["example.com"],
    },
    {
      name: "an IPv6-only resolver list gets no IPv4 default",
      text: "nameserver fd00::10\n",
      v4: [],
      v6: ["fd00::10"],
      search: ["cluster.local"],
    },
    {
      name: "unparsable nameservers are dropped",
      text: "nameserver fe80::1%eth0\nnameserver 300.1.1.1\n",
      v4: ["8.8.8.8"],
      v6: [],
      search: ["cluster.local"],
    },
    {
      name: "search words lowercased, several search lines",
      text: "search Foo.Example.COM\nsearch bar.example\n",
      v4: ["8.8.8.8"],
      v6: [],
      search: ["foo.example.com", "bar.example"],
    },
    {
      name: "subdomain prepended to the longest .svc. domain",
      text: "search ns1.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\n",
      subdomain: "mysub",
      v4: ["10.96.0.10"],
      v6: [],
      search: ["mysub.ns1.svc.cluster.local", "ns1.svc.cluster.local", "svc.cluster.local", "cluster.local"],
    },
    {
      name: "subdomain not prepended twice",
      text: "search mysub.ns1.svc.cluster.local ns1.svc.cluster.local\nnameserver 10.96.0.10\n",
      subdomain: "mysub",
      v4: ["10.96.0.10"],
      v6: [],
      search: ["mysub.ns1.svc.cluster.local", "ns1.svc.cluster.local"],
    },
    {
      name: "subdomain ignored without a .svc. domain",
      text: "search example.com\nnameserver 10.96.0.10\n",
      subdomain: "mysub",
      v4: ["10.96.0.10"],
      v6: [],
      search: ["example.com"],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = parseResolvConf(c.text, c.subdomain === undefined ? {} : { subdomain: c.subdomain });
      assert.deepEqual(r.nameserversV4, c.v4);
      assert.deepEqual(r.nameserversV6, c.v6);
      assert.deepEqual(r.search, c.search);
      assert.deepEqual(r.options, c.options ?? []);
    });
  }
});

describe("applySubdomain", () => {
  it("leaves the input list unchanged", () => {
    const input = ["a.svc.cluster.local"];
    assert.deepEqual(applySubdomain(input, "s"), ["s.a.svc.cluster.local", "a.svc.cluster.local"]);
    assert.deepEqual(input, ["a.svc.cluster.local"]);
  });
});
