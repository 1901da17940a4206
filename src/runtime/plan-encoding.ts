// The plan is the complete, resolved list of things the C core must do for one container
// (or one exec). TypeScript decides everything; C only executes. Wire format, chosen so the C
// side needs no parser beyond splitting on NUL:
//
//   record := OP "\0" COUNT "\0" FIELD_1 "\0" ... FIELD_COUNT "\0"
//
// Fields are strings (numbers as decimal ASCII). Fields may be empty but never contain NUL.
// See native/PLAN.md for the list of ops and their fields.

export type PlanField = string | number | bigint;
export type PlanRecord = readonly [op: string, ...fields: PlanField[]];

export function encodePlan(records: readonly PlanRecord[]): Uint8Array {
  const parts: string[] = [];
  for (const [op, ...fields] of records) {
    parts.push(op, String(fields.length));
    for (const field of fields) {
      const text = String(field);
      if (text.includes("\0")) throw new Error(`plan field for ${op} contains a NUL byte: ${JSON.stringify(text)}`);
      parts.push(text);
    }
  }
  return new TextEncoder().encode(parts.join("\0") + "\0");
}
