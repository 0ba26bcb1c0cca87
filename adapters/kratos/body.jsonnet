// Request body for Ory Kratos's courier HTTP delivery to Herald (POST /v1/adapters/kratos).
//
// Kratos evaluates this for every message (email and SMS alike) with `ctx` = its courier data model
// (ory/kratos courier/http_channel.go, httpDataModel). Herald reads these four fields and renders the
// message itself, in the recipient's language, so Kratos's own rendering (ctx.body, ctx.subject,
// ctx.html_body) and the user's request headers (ctx.request_headers) are not sent.
//
// Kratos config (kratos.yml):
//   courier:
//     delivery_strategy: http
//     http:
//       request_config:
//         url: https://herald.example.com/v1/adapters/kratos
//         method: POST
//         body: file:///etc/kratos/herald-body.jsonnet
//         auth:
//           type: api_key
//           config: { name: Authorization, value: "Bearer <HERALD_KRATOS_API_KEY>", in: header }
function(ctx) {
  recipient: ctx.recipient,
  template_type: ctx.template_type,
  // "email" or "sms"; Kratos versions before the field existed leave it out (Herald then tells by the recipient).
  message_type: if std.objectHas(ctx, 'message_type') then ctx.message_type else null,
  // The code or link, expires_in_minutes, the identity (id, traits: names and locale) and transient_payload.
  template_data: if std.objectHas(ctx, 'template_data') then ctx.template_data else {},
}
