import { MultiSelect, TagsInput } from '@mantine/core';
import { useUsers } from '../admin/admin.queries.ts';
import { holds, useMe } from '../session.tsx';

/**
 * Users picked by name: from the list of users for someone who may list them (User.Admin), typed
 * otherwise (the server says which names it does not know).
 */
export function UserPicker({ label, description, value, onChange, error }: { label: string; description?: string; value: string[]; onChange: (usernames: string[]) => void; error?: string }) {
  const me = useMe();
  const users = useUsers(holds(me, 'User.Admin'));
  if (users.data) {
    const known = new Set(users.data.map((user) => user.username));
    const data = [
      ...users.data.filter((user) => !user.disabled || value.includes(user.username)).map((user) => ({ value: user.username, label: `${user.username} (${user.displayName})` })),
      // A name the list no longer holds stays visible, to be removed.
      ...value.filter((username) => !known.has(username)).map((username) => ({ value: username, label: username })),
    ];
    return <MultiSelect label={label} description={description} data={data} value={value} onChange={onChange} error={error} searchable clearable hidePickedOptions nothingFoundMessage="No such user" />;
  }
  return <TagsInput label={label} description={`${description ? `${description}. ` : ''}Type each user name, then Enter`} value={value} onChange={onChange} error={error} clearable />;
}
