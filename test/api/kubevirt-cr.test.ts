import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_CLUSTER_CONFIG, type FeatureGate, isGateEnabled } from "../../src/api/cluster-config.ts";
import { clusterConfigFromKubeVirt } from "../../src/api/kubevirt-cr.ts";
import { parseDocuments } from "../../src/api/source.ts";

const cr = (configuration: unknown) => ({
  apiVersion: "kubevirt.io/v1",
  kind: "KubeVirt",
  metadata: { name: "kubevirt", namespace: "kubevirt" },
  spec: { configuration },
});

describe("clusterConfigFromKubeVirt", () => {
  it("gives KubeVirt's defaults for a CR without configuration", () => {
    const d = clusterConfigFromKubeVirt(cr(undefined));
    assert.deepEqual(d.causes, []);
    assert.deepEqual(d.value, DEFAULT_CLUSTER_CONFIG);
  });

  it("reads every network field and the developer configuration", () => {
    const [doc] = parseDocuments(
      `apiVersion: kubevirt.io/v1
kind: KubeVirt
metadata:
  name: kubevirt
  namespace: kubevirt
spec:
  configuration:
    network:
      defaultNetworkInterface: masquerade
      permitBridgeInterfaceOnPodNetwork: false
      permitSlirpInterface: true
      binding:
        macvtap:
          domainAttachmentType: tap
        passt:
          sidecarImage: quay.io/kubevirt/network-passt-binding:v1.1.0
          networkAttachmentDefinition: default/netbindingpasst
          migration:
            method: link-refresh
          downwardAPI: device-info
          computeResourceOverhead:
            requests:
              memory: 500Mi
        mynetbindingplugin:
          domainAttachmentType: managedTap
    developerConfiguration:
      useEmulation: true
      featureGates:
      - PortRangesSpec
      - Passt
      disabledFeatureGates:
      - PasstBinding
`,
      "kubevirt.yaml",
    );
    const d = clusterConfigFromKubeVirt(doc?.value);
    assert.deepEqual(d.causes, []);
    assert.deepEqual(d.value, {
      defaultNetworkInterface: "masquerade",
      permitBridgeInterfaceOnPodNetwork: false,
      permitSlirpInterface: true,
      bindingPlugins: {
        macvtap: { domainAttachmentType: "tap" },
        passt: {
          sidecarImage: "quay.io/kubevirt/network-passt-binding:v1.1.0",
          networkAttachmentDefinition: "default/netbindingpasst",
          migration: { method: "link-refresh" },
          downwardAPI: "device-info",
          computeResourceOverhead: { requests: { memory: "500Mi" } },
        },
        mynetbindingplugin: { domainAttachmentType: "managedTap" },
      },
      featureGates: ["PortRangesSpec", "Passt"],
      disabledFeatureGates: ["PasstBinding"],
      useEmulation: true,
    });
  });

  const invalid: { name: string; configuration: unknown; field: string; type: string; message: string }[] = [
    {
      name: "an unknown default network interface",
      configuration: { network: { defaultNetworkInterface: "macvtap" } },
      field: "spec.configuration.network.defaultNetworkInterface",
      type: "FieldValueInvalid",
      message: "invalid default-network-interface in config: macvtap",
    },
    {
      name: "a default network interface in the wrong case",
      configuration: { network: { defaultNetworkInterface: "Bridge" } },
      field: "spec.configuration.network.defaultNetworkInterface",
      type: "FieldValueInvalid",
      message: "invalid default-network-interface in config: Bridge",
    },
    {
      name: "an unknown domainAttachmentType",
      configuration: { network: { binding: { p: { domainAttachmentType: "macvtap" } } } },
      field: "spec.configuration.network.binding.p.domainAttachmentType",
      type: "FieldValueNotSupported",
      message:
        'Binding plugin "p" has unsupported domainAttachmentType "macvtap": supported values: "tap", "managedTap"',
    },
    {
      name: "an unknown downwardAPI",
      configuration: { network: { binding: { p: { downwardAPI: "deviceinfo" } } } },
      field: "spec.configuration.network.binding.p.downwardAPI",
      type: "FieldValueNotSupported",
      message: 'Binding plugin "p" has unsupported downwardAPI "deviceinfo": supported values: "device-info"',
    },
    {
      name: "a string permitBridgeInterfaceOnPodNetwork",
      configuration: { network: { permitBridgeInterfaceOnPodNetwork: "false" } },
      field: "spec.configuration.network.permitBridgeInterfaceOnPodNetwork",
      type: "FieldValueInvalid",
      message:
        'Invalid value: "string": spec.configuration.network.permitBridgeInterfaceOnPodNetwork in body must be of type boolean',
    },
    {
      name: "feature gates given as a string",
      configuration: { developerConfiguration: { featureGates: "Passt" } },
      field: "spec.configuration.developerConfiguration.featureGates",
      type: "FieldValueInvalid",
      message:
        'Invalid value: "string": spec.configuration.developerConfiguration.featureGates in body must be of type array',
    },
    {
      name: "a binding plugin that is not an object",
      configuration: { network: { binding: { p: "tap" } } },
      field: "spec.configuration.network.binding.p",
      type: "FieldValueInvalid",
      message: 'Invalid value: "string": spec.configuration.network.binding.p in body must be of type object',
    },
  ];
  for (const c of invalid) {
    it(`reports ${c.name} and keeps the default`, () => {
      const d = clusterConfigFromKubeVirt(cr(c.configuration));
      assert.deepEqual(
        d.causes.map(({ type, field, message }) => ({ type, field, message })),
        [{ type: c.type, field: c.field, message: c.message }],
      );
      assert.equal(d.value.defaultNetworkInterface, "bridge");
      assert.equal(d.value.permitBridgeInterfaceOnPodNetwork, true);
      assert.deepEqual(d.value.featureGates, []);
      for (const plugin of Object.values(d.value.bindingPlugins)) {
        assert.equal(plugin.domainAttachmentType, undefined);
        assert.equal(plugin.downwardAPI, undefined);
      }
    });
  }

  it("accepts an empty defaultNetworkInterface as KubeVirt does", () => {
    const d = clusterConfigFromKubeVirt(cr({ network: { defaultNetworkInterface: "" } }));
    assert.deepEqual(d.causes, []);
    assert.equal(d.value.defaultNetworkInterface, "");
  });
});

// Every gate in every state: listed in featureGates, listed in disabledFeatureGates, or not listed.
const gateCases: { gate: FeatureGate; unlisted: boolean; enabled: boolean; disabled: boolean }[] = [
  { gate: "PasstBinding", unlisted: true, enabled: true, disabled: false },
  { gate: "PortRangesSpec", unlisted: false, enabled: true, disabled: false },
  { gate: "NetworkDevicesWithDRA", unlisted: false, enabled: true, disabled: false },
  { gate: "PodSecondaryInterfaceNamingUpgrade", unlisted: true, enabled: true, disabled: false },
  { gate: "ExternalNetResourceInjection", unlisted: true, enabled: true, disabled: false },
  { gate: "HotplugNICs", unlisted: true, enabled: true, disabled: true },
  { gate: "NetworkBindingPlugins", unlisted: true, enabled: true, disabled: true },
  { gate: "DynamicPodInterfaceNaming", unlisted: true, enabled: true, disabled: true },
  { gate: "LiveUpdateNADRef", unlisted: true, enabled: true, disabled: true },
  { gate: "Passt", unlisted: false, enabled: true, disabled: false },
  { gate: "Macvtap", unlisted: false, enabled: true, disabled: false },
  { gate: "PasstIPStackMigration", unlisted: false, enabled: true, disabled: false },
];

describe("feature gates read from the CR", () => {
  for (const c of gateCases) {
    it(`${c.gate}: unlisted ${c.unlisted}, in featureGates ${c.enabled}, in disabledFeatureGates ${c.disabled}`, () => {
      const unlisted = clusterConfigFromKubeVirt(cr({ developerConfiguration: {} })).value;
      const enabled = clusterConfigFromKubeVirt(cr({ developerConfiguration: { featureGates: [c.gate] } })).value;
      const disabled = clusterConfigFromKubeVirt(
        cr({ developerConfiguration: { disabledFeatureGates: [c.gate] } }),
      ).value;
      assert.equal(isGateEnabled(unlisted, c.gate), c.unlisted);
      assert.equal(isGateEnabled(enabled, c.gate), c.enabled);
      assert.equal(isGateEnabled(disabled, c.gate), c.disabled);
    });
  }
  it("matches gate names case-sensitively", () => {
    const config = clusterConfigFromKubeVirt(
      cr({ developerConfiguration: { featureGates: ["portrangesspec"] } }),
    ).value;
    assert.equal(isGateEnabled(config, "PortRangesSpec"), false);
  });
});
