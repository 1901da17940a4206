export const VERSION_TEXT = "0.1.0";
