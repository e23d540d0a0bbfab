import { Title } from '@mantine/core';

export default function PermalinkPage() {
  return <Title order={1}>PermalinkPage</Title>;
}
