import { ActionIcon, AppShell, Burger, Button, Group, Indicator, Menu, NavLink, Popover, ScrollArea, Stack, Text, Title, UnstyledButton } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { NavLink as RouterLink, useLocation, useNavigate } from 'react-router';
import { api, setCsrfToken, unwrap } from './api/client.ts';
import { holds, isConsolePage, useMe, type Me, type Privilege } from './session.tsx';
import { formatTime } from './time.ts';
import { IntelliSearch } from './trail/IntelliSearch.tsx';

interface Page {
  readonly label: string;
  readonly to: string;
  /** Shown to users holding this privilege (`grantor`: any grant at Admin level); without one, to everyone signed in. */
  readonly privilege?: Privilege | 'grantor';
}

/** The seed's menus. My requests and My approvals are everyone's: executors and approvers are named by access groups. */
const MENUS: ReadonlyArray<{ readonly label: string; readonly pages: readonly Page[] }> = [
  {
    label: 'Change Audit',
    pages: [
      { label: 'Changes', to: '/changes', privilege: 'Change.View' },
      { label: 'My requests', to: '/requests' },
      { label: 'My approvals', to: '/approvals' },
      { label: 'Audited sessions', to: '/audited-sessions', privilege: 'Session.View' },
    ],
  },
  {
    label: 'PAM Core',
    pages: [
      { label: 'Credentials ➔ All', to: '/credentials' },
      { label: 'Devices', to: '/devices', privilege: 'Device.View' },
      { label: 'Access groups', to: '/access-groups', privilege: 'AccessGroup.View' },
      { label: 'Live sessions', to: '/live-sessions', privilege: 'Session.Watch' },
    ],
  },
  {
    label: 'Auditing',
    pages: [
      { label: 'Audit Rules', to: '/audit-rules', privilege: 'AuditingRule.View' },
      { label: 'Audit Trail', to: '/audit-trail', privilege: 'AuditTrail.View' },
      { label: 'Trash Can', to: '/trash-can', privilege: 'AuditTrail.View' },
      { label: 'Event log', to: '/event-log', privilege: 'EventLog.View' },
    ],
  },
  {
    label: 'Administration',
    pages: [
      { label: 'Users', to: '/users', privilege: 'User.Admin' },
      { label: 'Grants', to: '/grants', privilege: 'grantor' },
      { label: 'Partitions and applications', to: '/partitions', privilege: 'Partition.View' },
      { label: 'Webhooks', to: '/webhooks', privilege: 'User.Admin' },
    ],
  },
];

export function visibleMenus(me: Me) {
  const shown = (page: Page) => !page.privilege || (page.privilege === 'grantor' ? me.grants.some((grant) => grant.level === 'admin') : holds(me, page.privilege));
  return MENUS.map((menu) => ({ ...menu, pages: menu.pages.filter(shown) })).filter((menu) => menu.pages.length > 0);
}

/** How often the bell asks for the unread count: a decision shows within this. */
const BELL_POLL_MS = 5_000;

function Bell() {
  const me = useMe();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [opened, { toggle, close }] = useDisclosure();
  const unread = useQuery({
    queryKey: ['notifications', 'unread-count'],
    queryFn: async () => unwrap(await api.GET('/api/v1/notifications/unread-count')).unread,
    refetchInterval: BELL_POLL_MS,
  });
  const count = unread.data ?? 0;
  const recent = useQuery({
    queryKey: ['notifications', 'recent', count],
    queryFn: async () => unwrap(await api.GET('/api/v1/notifications', { params: { query: { limit: 8 } } })),
    enabled: opened,
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['notifications'] });
  const open = async (notice: { id: string; link: string | null; readAt: string | null }) => {
    close();
    if (!notice.readAt) await api.POST('/api/v1/notifications/{id}/read', { params: { path: { id: notice.id } } });
    void refresh();
    // A notice's link is a page of the console (`/requests/42`); anything else stays put.
    if (isConsolePage(notice.link)) navigate(notice.link);
  };
  const label = count === 0 ? 'Notifications: none unread' : `Notifications: ${count} unread`;
  return (
    <Popover opened={opened} onChange={(next) => !next && close()} position="bottom-end" width={380} withArrow shadow="md" trapFocus>
      <Popover.Target>
        <ActionIcon variant="subtle" size="lg" aria-label={label} title={label} onClick={toggle}>
          <Indicator label={count > 99 ? '99+' : count} size={18} disabled={count === 0} offset={-2} color="red.9">
            <svg width="20" height="20" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden="true" style={{ display: 'block' }}>
              <path d="M6 8a6 6 0 1 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
              <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
            </svg>
          </Indicator>
        </ActionIcon>
      </Popover.Target>
      <Popover.Dropdown aria-label="Notifications" role="dialog">
        <Group justify="space-between" mb="xs">
          <Text fw={600}>Notifications</Text>
          <Button
            size="compact-xs"
            variant="subtle"
            disabled={count === 0}
            onClick={async () => {
              await api.POST('/api/v1/notifications/read-all');
              void refresh();
            }}
          >
            Mark all read
          </Button>
        </Group>
        {recent.data?.length === 0 && (
          <Text size="sm" c="dimmed">
            Nothing yet.
          </Text>
        )}
        <Stack gap={4}>
          {recent.data?.map((notice) => (
            <UnstyledButton key={notice.id} onClick={() => void open(notice)} p={6} style={{ borderRadius: 4 }} aria-label={`${notice.readAt ? '' : 'Unread: '}${notice.title}`}>
              <Text size="sm" fw={notice.readAt ? 400 : 700} lineClamp={2}>
                {notice.title}
              </Text>
              <Text size="xs" c="dimmed">
                {formatTime(notice.createdAt, me.user.timeZone)}
              </Text>
            </UnstyledButton>
          ))}
        </Stack>
        <Button variant="subtle" size="xs" mt="xs" fullWidth onClick={() => (close(), navigate('/approvals'))}>
          Open My approvals
        </Button>
      </Popover.Dropdown>
    </Popover>
  );
}

function UserMenu() {
  const me = useMe();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const signOut = async () => {
    await api.POST('/api/v1/auth/logout');
    setCsrfToken(undefined);
    queryClient.clear();
    navigate('/signin', { replace: true });
  };
  return (
    <Menu position="bottom-end" withArrow>
      <Menu.Target>
        <UnstyledButton aria-label={`Account of ${me.user.displayName}`} px="xs">
          <Text size="sm" fw={500}>
            {me.user.displayName}
          </Text>
          <Text size="xs" c="dimmed">
            {me.user.timeZone}
          </Text>
        </UnstyledButton>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Label>Signed in as {me.user.username}</Menu.Label>
        <Menu.Item onClick={() => navigate('/account')}>Profile and time zone</Menu.Item>
        <Menu.Item onClick={() => navigate('/account?tab=two-factor')}>Two-factor sign-in</Menu.Item>
        <Menu.Item onClick={() => navigate('/account?tab=ssh-keys')}>SSH keys</Menu.Item>
        <Menu.Item onClick={() => navigate('/account?tab=tokens')}>API tokens</Menu.Item>
        <Menu.Divider />
        <Menu.Item onClick={() => void signOut()}>Sign out</Menu.Item>
      </Menu.Dropdown>
    </Menu>
  );
}

/** Where a saved filter opens: the page of what it searches, with the filter chosen. */
export function filterPage(filter: { target: string; businessKey: string }): string {
  const page = filter.target === 'AuditRule' ? '/audit-rules' : '/audit-trail';
  return `${page}?filter=${encodeURIComponent(filter.businessKey)}`;
}

/** The filters the user added to their navigation bar (Filter ▸ Add to navigation bar). */
function NavigationBar({ onOpen }: { onOpen: () => void }) {
  const location = useLocation();
  const filters = useQuery({
    queryKey: ['me', 'navigation'],
    queryFn: async () => unwrap(await api.GET('/api/v1/me/navigation')),
  });
  if (!filters.data?.length) return null;
  const here = `${location.pathname}${location.search}`;
  return (
    <NavLink component="button" label="Navigation bar" defaultOpened childrenOffset="sm" fw={600}>
      {filters.data.map((filter) => (
        <NavLink
          key={filter.id}
          component={RouterLink}
          to={filterPage(filter)}
          label={filter.name}
          description={filter.target === 'AuditRule' ? 'Audit Rules' : 'Audit Trail'}
          active={here === filterPage(filter)}
          variant="filled"
          onClick={onOpen}
        />
      ))}
    </NavLink>
  );
}

export function Shell({ children }: { children: ReactNode }) {
  const me = useMe();
  const location = useLocation();
  const [opened, { toggle, close }] = useDisclosure();
  return (
    <AppShell header={{ height: holds(me, 'AuditTrail.View') ? 84 : 56 }} navbar={{ width: 240, breakpoint: 'sm', collapsed: { mobile: !opened } }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group>
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Show the menu" />
            <Title order={2} size="h4">
              Changegate
            </Title>
          </Group>
          <Group gap="xs" wrap="nowrap">
            <Bell />
            {/* The seed places IntelliSearch under the user name, at the top right. */}
            <Stack gap={4} align="flex-end" py={4}>
              <UserMenu />
              {holds(me, 'AuditTrail.View') && <IntelliSearch />}
            </Stack>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" component="nav" aria-label="Main">
        <ScrollArea>
          {visibleMenus(me).map((menu) => (
            <NavLink key={menu.label} component="button" label={menu.label} defaultOpened childrenOffset="sm" fw={600}>
              {menu.pages.map((page) => (
                <NavLink
                  key={page.to}
                  component={RouterLink}
                  to={page.to}
                  label={page.label}
                  active={location.pathname === page.to || location.pathname.startsWith(`${page.to}/`)}
                  // White on the primary colour: legible at AA contrast, hovered or not.
                  variant="filled"
                  onClick={close}
                />
              ))}
            </NavLink>
          ))}
          <NavigationBar onOpen={close} />
        </ScrollArea>
      </AppShell.Navbar>
      <AppShell.Main>{children}</AppShell.Main>
    </AppShell>
  );
}
