import { Title } from '@mantine/core';

export default function GrantsPage() {
  return <Title order={1}>GrantsPage</Title>;
}
