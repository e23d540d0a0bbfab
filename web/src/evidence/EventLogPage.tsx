import { Title } from '@mantine/core';

export default function EventLogPage() {
  return <Title order={1}>EventLogPage</Title>;
}
