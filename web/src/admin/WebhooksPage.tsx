import { Title } from '@mantine/core';

export default function WebhooksPage() {
  return <Title order={1}>WebhooksPage</Title>;
}
