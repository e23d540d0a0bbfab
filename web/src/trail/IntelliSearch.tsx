import { ActionIcon, Code, Combobox, Group, Popover, Table, Text, TextInput, Title, useCombobox } from '@mantine/core';
import { useEffect, useId, useState } from 'react';
import { useLocation, useNavigate } from 'react-router';
import { useMe } from '../session.tsx';
import { toWallTime } from '../time.ts';
import { completions, PREFIXES, TIME_FORMS } from './search-syntax.ts';
import { useTrailUsers } from './trail.queries.ts';

const TRAIL = '/audit-trail';

/**
 * The IntelliSearch box: searches the audit trail from every page. Enter opens the trail with the
 * query; the list under the box completes the word being typed (a prefix, then a value for it),
 * from the keyboard as well (arrows, then Enter); the ? beside it lists the prefixes and time forms.
 */
export function IntelliSearch() {
  const me = useMe();
  const navigate = useNavigate();
  const location = useLocation();
  const [query, setQuery] = useState('');
  const listId = useId();
  // The option the arrows chose. Mantine's own aria-activedescendant keeps naming an option gone
  // from the list once the word changes, so the box sets its ARIA attributes itself.
  const [active, setActive] = useState<string>();
  const combobox = useCombobox({
    onDropdownClose: () => {
      combobox.resetSelectedOption();
      setActive(undefined);
    },
  });
  // On the trail the box shows the search the page shows, to be corrected in place.
  const shown = location.pathname === TRAIL ? (new URLSearchParams(location.search).get('q') ?? '') : undefined;
  useEffect(() => {
    if (shown !== undefined) setQuery(shown);
  }, [shown]);
  const asksForUser = /(^|\s)(u|user):\S*$/i.test(query);
  const users = useTrailUsers(asksForUser);
  const wall = toWallTime(new Date().toISOString(), me.user.timeZone);
  const options = completions(query, { users: users.data ?? [], clock: { date: wall.slice(0, 10), time: wall.slice(11, 16) } });

  const showList = combobox.dropdownOpened && options.length > 0;

  const search = () => {
    combobox.closeDropdown();
    const q = query.trim();
    navigate(q ? `${TRAIL}?q=${encodeURIComponent(q)}` : TRAIL);
  };

  return (
    <Group gap={4} wrap="nowrap">
      <form
        role="search"
        aria-label="Audit entries"
        onSubmit={(event) => {
          event.preventDefault();
          search();
        }}
      >
        <Combobox
          store={combobox}
          onOptionSubmit={(value) => {
            setQuery(value);
            combobox.resetSelectedOption();
            setActive(undefined);
            // A prefix chosen goes on to its values; a value chosen ends the word.
            if (value.endsWith(' ')) combobox.closeDropdown();
          }}
          position="bottom-end"
          width={320}
        >
          <Combobox.Target withAriaAttributes={false}>
            <TextInput
              role="combobox"
              aria-haspopup="listbox"
              aria-autocomplete="list"
              aria-expanded={showList}
              aria-controls={showList ? listId : undefined}
              aria-activedescendant={showList ? active : undefined}
              size="xs"
              w={260}
              aria-label="Search Audit Entries"
              placeholder="Search Audit Entries"
              value={query}
              spellCheck={false}
              autoComplete="off"
              onChange={(event) => {
                setQuery(event.currentTarget.value);
                combobox.openDropdown();
                combobox.resetSelectedOption();
                setActive(undefined);
              }}
              onKeyDown={(event) => {
                // After the combobox moved its choice (it handles the key once this returns).
                if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
                  queueMicrotask(() => setActive(document.getElementById(listId)?.querySelector('[data-combobox-selected]')?.id));
                }
              }}
              onFocus={() => combobox.openDropdown()}
              onClick={() => combobox.openDropdown()}
              onBlur={() => combobox.closeDropdown()}
            />
          </Combobox.Target>
          <Combobox.Dropdown hidden={!showList}>
            <Combobox.Options id={listId} aria-label="Completions">
              {options.map((option) => (
                <Combobox.Option value={option.value} key={option.value} aria-label={`${option.label} ${option.description}`}>
                  <Group gap="xs" wrap="nowrap" justify="space-between">
                    <Text size="sm" ff="monospace">
                      {option.label}
                    </Text>
                    <Text size="xs" c="dimmed" ta="right">
                      {option.description}
                    </Text>
                  </Group>
                </Combobox.Option>
              ))}
            </Combobox.Options>
          </Combobox.Dropdown>
        </Combobox>
      </form>
      <SearchHelp />
    </Group>
  );
}

/** The ? beside the box: every prefix and every time form, with examples. */
function SearchHelp() {
  const zone = useMe().user.timeZone;
  return (
    <Popover position="bottom-end" width={520} withArrow shadow="md" trapFocus>
      <Popover.Target>
        <ActionIcon variant="subtle" color="gray.8" size="sm" aria-label="Search help" title="Search help">
          <span aria-hidden="true" style={{ fontWeight: 700 }}>
            ?
          </span>
        </ActionIcon>
      </Popover.Target>
      <Popover.Dropdown role="dialog" aria-label="Search help">
        <Title order={2} size="h5" mb={4}>
          Searching the audit trail
        </Title>
        <Text size="xs" mb="xs">
          Write <Code>prefix:value</Code> with no space around the colon, quotes around a value with spaces; every term must hold. A word without a prefix is looked for in business keys
          and reasons. For example <Code>t:14:05-14:06 u:jdoe</Code>.
        </Text>
        <Table withTableBorder fz="xs" verticalSpacing={2} captionSide="top">
          <Table.Caption>Prefixes</Table.Caption>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Prefix</Table.Th>
              <Table.Th>Searches</Table.Th>
              <Table.Th>Example</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {PREFIXES.map((prefix) => (
              <Table.Tr key={prefix.names[0]}>
                <Table.Td ff="monospace">{prefix.names.join(', ')}</Table.Td>
                <Table.Td>{prefix.what}</Table.Td>
                <Table.Td ff="monospace">{prefix.example}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        <Table withTableBorder fz="xs" verticalSpacing={2} mt="xs" captionSide="top">
          <Table.Caption>Time forms, in your time zone ({zone})</Table.Caption>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Form</Table.Th>
              <Table.Th>Means</Table.Th>
              <Table.Th>Example</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {TIME_FORMS.map((time) => (
              <Table.Tr key={time.form}>
                <Table.Td ff="monospace">{time.form}</Table.Td>
                <Table.Td>{time.what}</Table.Td>
                <Table.Td ff="monospace">{time.example}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Popover.Dropdown>
    </Popover>
  );
}
