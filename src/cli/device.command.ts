import type { Command } from 'commander';
import type { DeviceView } from '../inventory/index.ts';
import { CommandError, EXIT } from './command-error.ts';
import { printFields } from './field-list.ts';
import { segment } from './api-client.ts';
import { withApi } from './api-connection.ts';
import { portNumber } from './option-values.ts';
import { printJson, printLines, printTable, shortTime } from './output.ts';

const DEVICE_REF = 'the device: its name, or PARTITION.name when the name is used in several partitions';

interface AddOptions {
  readonly host: string;
  readonly port?: number;
  readonly description?: string;
  readonly partition?: string;
  readonly application?: string;
  readonly tag?: string[];
  readonly hostKey?: string;
  readonly json?: boolean;
}

/** `false` where the option's `--no-…` form was given: clear the value. */
interface EditOptions {
  readonly host?: string;
  readonly port?: number;
  readonly description?: string;
  readonly application?: string | false;
  readonly tag?: string[] | false;
  readonly hostKey?: string | false;
  readonly json?: boolean;
}

/** `changegate device list|show|add|edit|remove|test`: the servers Changegate brokers sessions to. */
export function registerDeviceCommands(program: Command): void {
  const device = program.command('device').description('list, show, add, edit and remove devices, and test the connection that pins their SSH host key');

  device
    .command('list')
    .description('list the devices you may view (needs Device.View)')
    .option('--partition <name>', 'only devices in this partition')
    .option('--tag <tag>', 'only devices with this tag')
    .option('--search <text>', 'only devices whose name, host name or description contains this text')
    .option('--json', 'print the devices as JSON')
    .action((options: { partition?: string; tag?: string; search?: string; json?: boolean }) =>
      withApi(async (api) => {
        const devices = await api.get<DeviceView[]>('/devices', { partition: options.partition, tag: options.tag, search: options.search });
        if (options.json) return printJson(devices);
        printTable(['name', 'partition', 'application', 'address', 'tags', 'host key'], devices.map(deviceRow), 'No devices match.');
      }),
    );

  device
    .command('show')
    .description('show one device, with its pinned host key')
    .argument('<device>', DEVICE_REF)
    .option('--json', 'print the device as JSON')
    .action((ref: string, options: { json?: boolean }) =>
      withApi(async (api) => {
        const shown = await api.get<DeviceView>(`/devices/${segment(ref)}`);
        if (options.json) return printJson(shown);
        printDevice(shown);
      }),
    );

  device
    .command('add')
    .description('register a device (needs Device.Create); without --host-key its host key is pinned by the first `device test`')
    .argument('<name>', 'unique in its partition: letters, digits, ".", "_" and "-"; no "@"')
    .requiredOption('--host <hostname>', 'host name or IP address to connect to')
    .option('--port <port>', 'SSH port (default: 22)', portNumber)
    .option('--description <text>', 'what the device is')
    .option('--partition <name>', 'the partition it belongs to (default: GLOBAL)')
    .option('--application <name>', 'the application of its partition it belongs to')
    .option('--tag <tags...>', 'tags, such as --tag linux web')
    .option('--host-key <line>', 'pin this SSH host key now: a quoted "ssh-ed25519 AAAA…" line, as in known_hosts or ssh-keyscan')
    .option('--json', 'print the device as JSON')
    .action((name: string, options: AddOptions) =>
      withApi(async (api) => {
        const created = await api.post<DeviceView>('/devices', {
          name,
          hostname: options.host,
          port: options.port,
          description: options.description,
          partition: options.partition,
          application: options.application,
          tags: options.tag,
          hostKey: options.hostKey,
        });
        if (options.json) return printJson(created);
        printLines(`Added device ${created.name} in partition ${created.partition} (${address(created)}).`, pinningNote(created));
      }),
    );

  device
    .command('edit')
    .description('edit a device (needs Device.Edit); options not given stay as they are')
    .argument('<device>', DEVICE_REF)
    .option('--host <hostname>', 'host name or IP address to connect to')
    .option('--port <port>', 'SSH port', portNumber)
    .option('--description <text>', 'what the device is')
    .option('--application <name>', 'move it to this application of its partition')
    .option('--no-application', 'take it out of its application')
    .option('--tag <tags...>', 'replace its tags with these')
    .option('--no-tag', 'remove every tag')
    .option('--host-key <line>', 'pin this SSH host key instead of the current one (a server that was really reinstalled)')
    .option('--no-host-key', 'unpin the host key: the next `device test` pins the key the device then shows')
    .option('--json', 'print the device as JSON')
    .action(async (ref: string, options: EditOptions) => {
      const patch = {
        ...(options.host !== undefined && { hostname: options.host }),
        ...(options.port !== undefined && { port: options.port }),
        ...(options.description !== undefined && { description: options.description }),
        ...(options.application !== undefined && { application: options.application || null }),
        ...(options.tag !== undefined && { tags: options.tag || [] }),
        ...(options.hostKey !== undefined && { hostKey: options.hostKey || null }),
      };
      if (Object.keys(patch).length === 0) throw new CommandError('Nothing to change: give at least one option (`changegate device edit --help` lists them).', EXIT.usage);
      await withApi(async (api) => {
        const updated = await api.patch<DeviceView>(`/devices/${segment(ref)}`, patch);
        if (options.json) return printJson(updated);
        printLines(`Updated device ${updated.name} (version ${updated.version}).`);
        if (options.hostKey !== undefined) printLines(pinningNote(updated));
      });
    });

  device
    .command('remove')
    .description('delete a device that has no credentials and belongs to no change (needs Device.Delete)')
    .argument('<device>', DEVICE_REF)
    .action((ref: string) =>
      withApi(async (api) => {
        await api.delete(`/devices/${segment(ref)}`);
        printLines(`Removed device ${ref}.`);
      }),
    );

  device
    .command('test')
    .description(
      'connect far enough to read the SSH host key (needs Device.Edit): pins it the first time, checks it afterwards; a different key fails with exit code 1',
    )
    .argument('<device>', DEVICE_REF)
    .option('--expected-fingerprint <SHA256:…>', 'the fingerprint you verified out of band, for pinning a new key of a device that holds credentials')
    .option('--json', 'print the outcome and the device as JSON')
    .action((ref: string, options: { expectedFingerprint?: string; json?: boolean }) =>
      withApi(async (api) => {
        const outcome = await api.post<{ device: DeviceView; hostKeyStatus: 'pinned' | 'matched'; hostKeyFingerprint: string }>(
          `/devices/${segment(ref)}/test-connection`,
          options.expectedFingerprint === undefined ? undefined : { expectedFingerprint: options.expectedFingerprint },
        );
        if (options.json) return printJson(outcome);
        const target = `${outcome.device.name} (${address(outcome.device)})`;
        printLines(
          outcome.hostKeyStatus === 'pinned'
            ? `Host key of ${target}: ${outcome.hostKeyFingerprint} pinned: every later connection must present this key.`
            : `Host key of ${target}: ${outcome.hostKeyFingerprint} matched the pinned key.`,
        );
      }),
    );
}

const address = (device: Pick<DeviceView, 'hostname' | 'port'>): string =>
  device.hostname.includes(':') ? `[${device.hostname}]:${device.port}` : `${device.hostname}:${device.port}`;

function pinningNote(device: DeviceView): string {
  return device.hostKeyFingerprint
    ? `Pinned host key: ${device.hostKeyFingerprint}.`
    : `Its host key is not pinned yet: \`changegate device test ${device.name}\` pins the key the device shows.`;
}

const deviceRow = (device: DeviceView): string[] => [
  device.name,
  device.partition,
  device.application ?? '-',
  address(device),
  device.tags.join(',') || '-',
  device.hostKeyFingerprint ?? 'not pinned',
];

function printDevice(device: DeviceView): void {
  printFields([
    ['Name', device.name],
    ['Partition', device.partition],
    ['Application', device.application],
    ['Address', `${address(device)} (${device.protocol})`],
    ['Description', device.description],
    ['Tags', device.tags.join(', ')],
    ['Host key', device.hostKey ?? 'not pinned: `changegate device test` pins it'],
    ['Fingerprint', device.hostKeyFingerprint],
    ['Version', device.version],
    ['Created', `${shortTime(device.createdAt)} by ${device.createdBy}`],
    ['Updated', `${shortTime(device.updatedAt)} by ${device.updatedBy}`],
  ]);
}
