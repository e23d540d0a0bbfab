/**
 * The seed's "Video of Session": the recording in asciinema-player, which starts by itself, with a
 * marker on the seek bar at each command, the commands beside it, a search of what the terminal
 * printed, a choice of speed, and the moment in the address (`#t=mm:ss`). Loaded only when the tab
 * opens: the player is the console's largest library.
 */
import 'asciinema-player/dist/bundle/asciinema-player.css';
import * as AsciinemaPlayer from 'asciinema-player';
import { Alert, Box, Button, Code, Card, Grid, Group, NativeSelect, ScrollArea, Stack, Text, TextInput, Title, UnstyledButton } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useEffect, useMemo, useRef, useState } from 'react';
import { useLocation, useNavigate } from 'react-router';
import { Loaded } from '../ui.tsx';
import { recordingUrl, useRecording, useSessionCommands, type SessionCommand } from './audit.queries.ts';
import { castText, findInCast, MAX_MATCHES, type CastMatch } from './cast-search.ts';
import { formatOffset, hashOfOffset, offsetOfHash } from './playback-time.ts';

const SPEEDS = [0.5, 1, 1.5, 2, 4, 8] as const;

/** A click on a command plays from this long before it, so the auditor sees it being typed. */
const LEAD_IN_SECONDS = 2;

/** How often the position shown under the player follows it. */
const POSITION_MS = 250;

/** A search match is shown a moment after it was printed, so the text is on the screen. */
const SHOW_MATCH_AFTER = 0.05;

/**
 * Whether this page may compile WebAssembly, which the player's terminal is written in: a
 * Content-Security-Policy whose script-src lacks 'wasm-unsafe-eval' forbids it, and the player
 * would then stay black without a word.
 */
const PLAYER_CAN_RUN = (() => {
  try {
    new WebAssembly.Module(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]));
    return true;
  } catch {
    return false;
  }
})();

export default function SessionVideo({ session }: { session: number }) {
  const recording = useRecording(session);
  const commands = useSessionCommands(session);
  return (
    <Loaded query={recording}>{(cast) => <Loaded query={commands}>{(list) => <Video session={session} cast={cast} commands={list} />}</Loaded>}</Loaded>
  );
}

function Video({ session, cast, commands }: { session: number; cast: string; commands: readonly SessionCommand[] }) {
  const location = useLocation();
  const navigate = useNavigate();
  const params = new URLSearchParams(location.search);
  const asked = Number(params.get('speed'));
  const speed = (SPEEDS as readonly number[]).includes(asked) ? asked : 1;

  const container = useRef<HTMLDivElement>(null);
  const player = useRef<AsciinemaPlayer.Player | undefined>(undefined);
  // Where a new player starts: the link's moment at first, then where the one it replaces was
  // (a new speed makes a new player: the player takes its speed when it is created).
  const resume = useRef({ time: offsetOfHash(location.hash) ?? 0, playing: true });
  // The fragment this page wrote itself, so that only a link followed moves the player.
  const written = useRef(location.hash);
  // What the player says, once it runs.
  const [position, setPosition] = useState<number | undefined>(undefined);
  const [duration, setDuration] = useState<number | undefined>(undefined);
  const markers = useMemo(() => commands.map((command): [number, string] => [command.offsetSeconds, command.text]), [commands]);

  useEffect(() => {
    const element = container.current;
    if (!element || !PLAYER_CAN_RUN) return;
    const { time, playing: autoPlay } = resume.current;
    const created = AsciinemaPlayer.create({ data: cast }, element, { autoPlay, speed, markers, startAt: time, fit: 'width', terminalFontSize: 'small', controls: true });
    player.current = created;
    let playing = autoPlay;
    created.addEventListener('playing', () => (playing = true));
    created.addEventListener('pause', () => (playing = false));
    created.addEventListener('ended', () => (playing = false));
    const follow = setInterval(() => {
      const now = created.getCurrentTime();
      if (Number.isFinite(now)) setPosition(now);
      const length = created.getDuration();
      if (length !== undefined) setDuration(length);
    }, POSITION_MS);
    return () => {
      clearInterval(follow);
      const now = created.getCurrentTime();
      resume.current = { time: Number.isFinite(now) ? now : resume.current.time, playing };
      created.dispose();
      player.current = undefined;
    };
  }, [cast, speed, markers]);

  // A link to another moment of this video, followed while it is open.
  useEffect(() => {
    if (location.hash === written.current) return;
    written.current = location.hash;
    const at = offsetOfHash(location.hash);
    if (at !== undefined) void player.current?.seek(at);
  }, [location.hash]);

  /** Moves the player, and the address to that moment, so a copied link opens there. */
  const seek = async (time: number, then: 'play' | 'pause') => {
    const hash = `#${hashOfOffset(time)}`;
    written.current = hash;
    navigate({ search: location.search, hash }, { replace: true });
    const current = player.current;
    if (!current) return;
    await current.seek(time);
    await (then === 'play' ? current.play() : current.pause());
    setPosition(time);
  };

  const setParam = (key: string, value: string) => {
    const next = new URLSearchParams(location.search);
    if (value) next.set(key, value);
    else next.delete(key);
    navigate({ search: `?${next}`, hash: location.hash }, { replace: true });
  };

  // The command on the screen now: the last one started.
  const playingCommand = position === undefined ? -1 : commands.findLastIndex((command) => command.offsetSeconds <= position);

  return (
    <Grid gap="md">
      <Grid.Col span={{ base: 12, lg: 8 }}>
        <Stack gap="sm">
          {PLAYER_CAN_RUN ? (
            <Box ref={container} aria-label={`Recording of session #${session}`} role="region" />
          ) : (
            <Alert color="red" role="alert" title="The player cannot run in this page">
              This server&apos;s Content-Security-Policy does not allow WebAssembly (&apos;wasm-unsafe-eval&apos;), which the player needs. Download the recording and play it
              with <Code>asciinema play</Code>.
            </Alert>
          )}
          <Group justify="space-between" align="end">
            <Text size="sm">
              Position {position === undefined ? '…' : formatOffset(position)} of {duration === undefined ? '…' : formatOffset(duration)}
            </Text>
            <Group align="end" gap="sm">
              <NativeSelect
                label="Speed"
                data={SPEEDS.map((each) => ({ value: String(each), label: `${each}×` }))}
                value={String(speed)}
                onChange={(event) => setParam('speed', event.currentTarget.value === '1' ? '' : event.currentTarget.value)}
                w={90}
              />
              <Button component="a" href={recordingUrl(session)} download variant="default">
                Download recording
              </Button>
            </Group>
          </Group>
          <RecordingSearch cast={cast} query={params.get('find') ?? ''} onQuery={(query) => setParam('find', query)} onMatch={(match) => void seek(match.time + SHOW_MATCH_AFTER, 'pause')} />
        </Stack>
      </Grid.Col>
      <Grid.Col span={{ base: 12, lg: 4 }}>
        <Card withBorder>
          <Title order={2} size="h4">
            Commands
          </Title>
          <Text size="xs" mb="xs">
            Each plays from {LEAD_IN_SECONDS} seconds before it.
          </Text>
          {commands.length === 0 ? (
            <Text size="sm">No command was captured in this session.</Text>
          ) : (
            <ScrollArea.Autosize mah={520}>
              <Stack gap={2} component="ol" style={{ listStyle: 'none', padding: 0, margin: 0 }}>
                {commands.map((command, index) => (
                  <li key={command.seq}>
                    <UnstyledButton
                      onClick={() => void seek(Math.max(0, command.offsetSeconds - LEAD_IN_SECONDS), 'play')}
                      aria-current={index === playingCommand ? 'true' : undefined}
                      w="100%"
                      px="xs"
                      py={4}
                      bg={index === playingCommand ? 'indigo.0' : undefined}
                      style={{ borderRadius: 'var(--mantine-radius-sm)' }}
                    >
                      <Group gap="xs" wrap="nowrap" align="start">
                        <Text size="sm" ff="monospace" style={{ whiteSpace: 'nowrap' }}>
                          {formatOffset(command.offsetSeconds)}
                        </Text>
                        <Text size="sm" ff="monospace" style={{ overflowWrap: 'anywhere' }}>
                          {command.text}
                        </Text>
                      </Group>
                    </UnstyledButton>
                  </li>
                ))}
              </Stack>
            </ScrollArea.Autosize>
          )}
        </Card>
      </Grid.Col>
    </Grid>
  );
}

/** Text the terminal printed, found in the recording: each match with its moment, and previous/next. */
function RecordingSearch({ cast, query, onQuery, onMatch }: { cast: string; query: string; onQuery: (query: string) => void; onMatch: (match: CastMatch) => void }) {
  const printed = useMemo(() => castText(cast), [cast]);
  const lower = useMemo(() => printed.text.toLowerCase(), [printed]);
  const [typed] = useDebouncedValue(query, 250);
  const matches = useMemo(() => findInCast(printed, typed, lower), [printed, typed, lower]);
  const [current, setCurrent] = useState<number | undefined>(undefined);
  useEffect(() => setCurrent(undefined), [matches]);

  const go = (index: number) => {
    const match = matches[index];
    if (!match) return;
    setCurrent(index);
    onMatch(match);
  };
  const count = matches.length;
  return (
    <Card withBorder>
      <Group align="end" gap="sm">
        <TextInput
          label="Search the recording"
          description="Text the terminal showed"
          value={query}
          onChange={(event) => onQuery(event.currentTarget.value)}
          onKeyDown={(event) => {
            if (event.key === 'Enter' && count > 0) go(((current ?? -1) + (event.shiftKey ? count - 1 : 1)) % count);
          }}
          w={280}
        />
        <Button variant="default" disabled={count === 0} onClick={() => go(((current ?? 0) - 1 + count) % count)}>
          Previous match
        </Button>
        <Button variant="default" disabled={count === 0} onClick={() => go(((current ?? -1) + 1) % count)}>
          Next match
        </Button>
        <Text size="sm" role="status">
          {!typed.trim()
            ? ''
            : count === 0
              ? 'No match.'
              : current === undefined
                ? `${count}${count === MAX_MATCHES ? '+' : ''} ${count === 1 ? 'match' : 'matches'}`
                : `Match ${current + 1} of ${count}${count === MAX_MATCHES ? '+' : ''}`}
        </Text>
      </Group>
      {count > 0 && (
        <ScrollArea.Autosize mah={200} mt="xs">
          <Stack gap={2} component="ol" style={{ listStyle: 'none', padding: 0, margin: 0 }} aria-label="Matches">
            {matches.map((match, index) => (
              <li key={index}>
                <UnstyledButton onClick={() => go(index)} aria-current={index === current ? 'true' : undefined} px="xs" py={2} w="100%" bg={index === current ? 'indigo.0' : undefined}>
                  <Group gap="xs" wrap="nowrap">
                    <Text size="sm" ff="monospace" fw={600} style={{ flexShrink: 0 }}>
                      {formatOffset(match.time)}
                    </Text>
                    <Text size="sm" ff="monospace" truncate>
                      {match.context}
                    </Text>
                  </Group>
                </UnstyledButton>
              </li>
            ))}
          </Stack>
        </ScrollArea.Autosize>
      )}
    </Card>
  );
}
