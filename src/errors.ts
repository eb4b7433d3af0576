// A UserError is bad input or a missing file: the CLI prints its one line and exits 1.
export class UserError extends Error {}
