import { Title } from '@mantine/core';

export default function PartitionsPage() {
  return <Title order={1}>PartitionsPage</Title>;
}
