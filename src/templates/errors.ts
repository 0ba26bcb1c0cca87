export class TemplateError extends Error {
  override readonly name = "TemplateError";
}
