import { InvalidArgumentError, type Command } from 'commander';
import { leafHash } from '../eventlog/event.ts';
import { verifyConsistency, verifyInclusion } from '../eventlog/merkle.ts';
import type { ConsistencyProofView, EventView, InclusionProofView } from '../evidence/index.ts';
import { withApi } from './api-connection.ts';
import { CommandFailed } from './command-error.ts';
import { wholeNumber } from './option-values.ts';
import { printJson, printLines } from './output.ts';

const SIZE = wholeNumber('a tree size (a number of entries)', 1);

/** A root hash as a checkpoint carries it: 32 bytes in base64. */
function rootHash(raw: string): Buffer {
  const bytes = Buffer.from(raw, 'base64');
  if (bytes.length !== 32 || bytes.toString('base64') !== raw) throw new InvalidArgumentError('expected a SHA-256 root hash in base64 (44 characters ending in "="), as a checkpoint shows it.');
  return bytes;
}

const fromBase64 = (value: string): Buffer => Buffer.from(value, 'base64');

/**
 * What is wrong with where a served inclusion proof says it is from: a proof for another position
 * or another tree size may verify, and prove nothing about the entry and size asked for.
 */
export function inclusionAnswerProblems(asked: { readonly seq: number; readonly size?: number }, served: Pick<InclusionProofView, 'seq' | 'leafIndex' | 'treeSize'>): string[] {
  const problems: string[] = [];
  if (served.seq !== asked.seq || served.leafIndex !== asked.seq - 1) problems.push(`the server answered for entry ${served.seq} at leaf index ${served.leafIndex}, not entry ${asked.seq} at leaf index ${asked.seq - 1}`);
  if (asked.size !== undefined && served.treeSize !== asked.size) problems.push(`the server answered for a tree of ${served.treeSize} entries, not the ${asked.size} asked`);
  return problems;
}

/** What is wrong with the sizes a served consistency proof says it links. */
export function consistencyAnswerProblems(asked: { readonly from: number; readonly to?: number }, served: Pick<ConsistencyProofView, 'from' | 'to'>): string[] {
  const problems: string[] = [];
  if (served.from !== asked.from) problems.push(`the server answered from a tree of ${served.from} entries, not the ${asked.from} asked`);
  if (asked.to !== undefined && served.to !== asked.to) problems.push(`the server answered to a tree of ${served.to} entries, not the ${asked.to} asked`);
  return problems;
}

/**
 * `changegate log proof inclusion|consistency`: fetches a Merkle proof from the server and checks
 * it here, with the RFC 9162 algorithms, so a server that lies is caught by the one who asked. Given
 * a root from a checkpoint kept elsewhere (`--root`, `--from-root`), the proof is checked against
 * that root rather than the one the server sent.
 */
export function registerLogProofCommands(log: Command): void {
  const proof = log.command('proof').description("fetch a Merkle proof of the event log from the server and verify it here; exits 1 when it does not verify");

  proof
    .command('inclusion')
    .description('prove that an entry is in the log: fetch the entry and its inclusion proof, hash the entry here and check the proof leads to the root')
    .requiredOption('--seq <n>', 'the entry (its seq, from 1)', wholeNumber('an entry seq', 1))
    .option('--size <n>', 'the tree size to prove it in, such as a checkpoint\'s (default: the whole log)', SIZE)
    .option('--root <base64>', 'check against this root (a checkpoint\'s) instead of the one the server sends', rootHash)
    .option('--json', 'print the proof and the outcome as JSON')
    .addHelpText('after', '\nNeeds EventLog.View. Hashes are base64, as in a checkpoint.')
    .action((options: { seq: number; size?: number; root?: Buffer; json?: boolean }) =>
      withApi(async (api) => {
        const served = await api.get<InclusionProofView>('/log/proof/inclusion', { seq: options.seq, size: options.size });
        const [entry] = await api.get<EventView[]>('/events', { after: options.seq - 1, limit: 1 });
        const root = options.root ?? fromBase64(served.rootHash);
        const problems = inclusionAnswerProblems({ seq: options.seq, size: options.size }, served);
        const ownLeaf = entry?.seq === options.seq ? leafHash({ ...entry, time: new Date(entry.time) }) : undefined;
        if (ownLeaf === undefined) problems.push(`the server did not send entry ${options.seq}`);
        else if (Buffer.from(ownLeaf, 'hex').toString('base64') !== served.leafHash) problems.push(`entry ${options.seq} as sent does not hash to the leaf the proof is for`);
        if (options.root && !options.root.equals(fromBase64(served.rootHash))) problems.push(`the server's root for size ${served.treeSize} is not the one you gave`);
        if (!verifyInclusion(served.leafIndex, served.treeSize, fromBase64(served.leafHash), served.proof.map(fromBase64), root)) {
          problems.push(`the proof does not lead from the leaf to the root`);
        }
        const verified = problems.length === 0;
        if (options.json) printJson({ ...served, checkedRoot: root.toString('base64'), verified, problems });
        else if (verified) {
          printLines(
            `Entry ${served.seq}${entry ? ` (${entry.action} ${entry.subject})` : ''} is in the tree of the first ${served.treeSize} entries: proof verified.`,
            `Leaf hash: ${served.leafHash}`,
            `Root hash: ${root.toString('base64')}`,
          );
        } else {
          printLines(`Inclusion proof of entry ${served.seq} in the tree of ${served.treeSize} entries FAILED: ${problems.join('; ')}.`, `Root hash checked: ${root.toString('base64')}`);
        }
        if (!verified) throw new CommandFailed();
      }),
    );

  proof
    .command('consistency')
    .description('prove that the log of --to entries extends the log of --from entries unchanged: nothing before --from was edited, removed or reordered')
    .requiredOption('--from <n>', 'the older tree size, such as a checkpoint you kept', SIZE)
    .option('--to <n>', 'the newer tree size (default: the whole log)', SIZE)
    .option('--from-root <base64>', 'check against this root of the older tree (a checkpoint\'s) instead of the one the server sends', rootHash)
    .option('--to-root <base64>', 'check against this root of the newer tree instead of the one the server sends', rootHash)
    .option('--json', 'print the proof and the outcome as JSON')
    .addHelpText('after', '\nNeeds EventLog.View. Hashes are base64, as in a checkpoint.')
    .action((options: { from: number; to?: number; fromRoot?: Buffer; toRoot?: Buffer; json?: boolean }) =>
      withApi(async (api) => {
        const served = await api.get<ConsistencyProofView>('/log/proof/consistency', { from: options.from, to: options.to });
        const fromRoot = options.fromRoot ?? fromBase64(served.fromRoot);
        const toRoot = options.toRoot ?? fromBase64(served.toRoot);
        const problems = consistencyAnswerProblems({ from: options.from, to: options.to }, served);
        if (options.fromRoot && !options.fromRoot.equals(fromBase64(served.fromRoot))) problems.push(`the server's root for size ${served.from} is not the one you gave: the first ${served.from} entries are not what they were`);
        if (options.toRoot && !options.toRoot.equals(fromBase64(served.toRoot))) problems.push(`the server's root for size ${served.to} is not the one you gave`);
        if (!verifyConsistency(served.from, served.to, served.proof.map(fromBase64), fromRoot, toRoot)) problems.push('the proof does not link the two roots');
        const verified = problems.length === 0;
        if (options.json) printJson({ ...served, checkedFromRoot: fromRoot.toString('base64'), checkedToRoot: toRoot.toString('base64'), verified, problems });
        else if (verified) {
          printLines(
            `The tree of ${served.to} entries extends the tree of ${served.from} entries: proof verified.`,
            `Root at ${served.from}: ${fromRoot.toString('base64')}`,
            `Root at ${served.to}: ${toRoot.toString('base64')}`,
          );
        } else {
          printLines(`Consistency proof from ${served.from} to ${served.to} entries FAILED: ${problems.join('; ')}.`);
        }
        if (!verified) throw new CommandFailed();
      }),
    );
}
