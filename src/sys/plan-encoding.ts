// The plan is the complete, resolved list of things the C core must do for one container
// (or one exec). TypeScript decides everything; C only executes. Wire format, chosen so the C
// side needs no parser beyond splitting on NUL:
//
//   record := OP "\0" COUNT "\0" FIELD_1 "\0" ... FIELD_COUNT "\0"
//
// Fields are strings (numbers as decimal ASCII). Fields may be empty but never contain NUL.
// See native/PLAN.md for the list of ops and their fields.
//
// In sys/, below both security/ and runtime/, because both write records: security/ turns
// capabilities and seccomp profiles into theirs (it owns their rules), runtime/plan.ts the rest.
// (The other way out, security returning data for runtime to encode, needs a second typed form
// of a seccomp profile that exists only to be turned into these records: more code, no gain.)

export type PlanField = string | number | bigint;
export type PlanRecord = readonly [op: string, ...fields: PlanField[]];

export function encodePlan(records: readonly PlanRecord[]): Uint8Array {
  // One string built in place (a plan has hundreds of records with a seccomp profile).
  let out = "";
  for (const record of records) {
    out += record[0] + "\0" + (record.length - 1) + "\0";
    for (let i = 1; i < record.length; i++) {
      const text = String(record[i]);
      if (text.indexOf("\0") >= 0) throw new Error(`plan field for ${record[0]} contains a NUL byte: ${JSON.stringify(text)}`);
      out += text + "\0";
    }
  }
  return Buffer.from(out, "utf8");
}
