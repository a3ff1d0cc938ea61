import type { ApprovalGroupConfig } from '../config/config-types';

/**
 * Whether `voters` (distinct approvers) fill every seat of `groups`: each
 * group has `required` seats, a seat takes one of the group's listed
 * approvers, and no approver takes two seats. So one person listed in
 * finance and in legal is one pair of eyes, never the two that
 * `approval:finance, approval:legal` asks for. Bipartite matching by
 * augmenting paths (seats and voters are few: `required` is at most 100).
 */
export function seatsFilled(groups: readonly Pick<ApprovalGroupConfig, 'approvers' | 'required'>[], voters: Iterable<string>): boolean {
  const people = [...new Set(voters)];
  const seats: Array<readonly string[]> = groups.flatMap((g) => Array.from({ length: g.required }, () => g.approvers));
  if (seats.length > people.length) return false;
  const seatOf = new Map<string, number>();
  const take = (seat: number, tried: Set<string>): boolean => {
    for (const p of people) {
      if (tried.has(p) || !seats[seat]!.includes(p)) continue;
      tried.add(p);
      const held = seatOf.get(p);
      if (held === undefined || take(held, tried)) {
        seatOf.set(p, seat);
        return true;
      }
    }
    return false;
  };
  return seats.every((_, i) => take(i, new Set()));
}
