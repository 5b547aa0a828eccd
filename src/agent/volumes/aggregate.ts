/**
 * upstream utilerrors.NewAggregate(...).Error(): one message as it is, several (duplicates
 * dropped) as `[a, b]` — what a volume with several failing sources reports.
 */
export function aggregateMessage(messages: string[]): string {
  const unique = [...new Set(messages)];
  return unique.length === 1 ? unique[0] : `[${unique.join(', ')}]`;
}
