// A trainer marks one verdict of a transcript as wrong: which reply, which criterion,
// the right verdict, and why. Props (set by bot/web/transcripts.py, correction_props):
// session, turns [{message, turn, text, verdicts {criterion: verdict}}],
// criteria [{id, label}], verdicts [{id, label}], strings {title, reply, criterion,
// current, verdict, comment, submit, sent}.
// Everything is rendered as text (React escapes it); the server checks every field
// and who is asking again (bot/web/handlers.py, correct_verdict).
import { useState } from "react";

export default function VerdictCorrection() {
  const turns = props.turns ?? [];
  const criteria = props.criteria ?? [];
  const verdicts = props.verdicts ?? [];
  const s = props.strings ?? {};
  const [message, setMessage] = useState(turns.length ? String(turns[turns.length - 1].message) : "");
  const [criterion, setCriterion] = useState(criteria.length ? criteria[0].id : "");
  const [verdict, setVerdict] = useState("");
  const [comment, setComment] = useState("");
  const [sent, setSent] = useState(false);
  if (!turns.length) return null;
  const chosen = turns.find((t) => String(t.message) === message) ?? turns[0];
  const current = (chosen.verdicts ?? {})[criterion] ?? "na";
  const label = (list, id) => (list.find((x) => x.id === id) ?? { label: id }).label;
  const ready = verdict && verdict !== current && comment.trim().length > 0;
  const submit = () => {
    if (!ready) return;
    callAction({
      name: "correct_verdict",
      payload: { session: props.session, message: Number(message), criterion, verdict, comment },
    });
    setSent(true);
    setComment("");
    setVerdict("");
  };
  const field = "w-full rounded border border-input bg-background px-2 py-1 text-sm";
  return (
    <form id="verdict-correction" className="flex flex-col gap-2 p-2 text-sm" onSubmit={(e) => { e.preventDefault(); submit(); }}>
      <div className="font-semibold">{s.title}</div>
      <label className="flex flex-col gap-1">
        <span>{s.reply}</span>
        <select name="message" className={field} value={message} onChange={(e) => { setMessage(e.target.value); setSent(false); }}>
          {turns.map((t) => (
            <option key={t.message} value={String(t.message)}>{`${t.turn}. ${t.text}`}</option>
          ))}
        </select>
      </label>
      <label className="flex flex-col gap-1">
        <span>{s.criterion}</span>
        <select name="criterion" className={field} value={criterion} onChange={(e) => { setCriterion(e.target.value); setSent(false); }}>
          {criteria.map((c) => (
            <option key={c.id} value={c.id}>{c.label}</option>
          ))}
        </select>
      </label>
      <div className="text-muted-foreground">{s.current}: {label(verdicts, current)}</div>
      <label className="flex flex-col gap-1">
        <span>{s.verdict}</span>
        <select name="verdict" className={field} value={verdict} onChange={(e) => setVerdict(e.target.value)}>
          <option value=""></option>
          {verdicts.filter((v) => v.id !== current).map((v) => (
            <option key={v.id} value={v.id}>{v.label}</option>
          ))}
        </select>
      </label>
      <label className="flex flex-col gap-1">
        <span>{s.comment}</span>
        <textarea name="comment" className={field} rows={3} maxLength={props.maxComment ?? 2000} value={comment} onChange={(e) => setComment(e.target.value)} />
      </label>
      <button type="submit" disabled={!ready} className="self-start rounded bg-primary px-3 py-1 text-primary-foreground disabled:opacity-50">{s.submit}</button>
      {sent ? <div id="verdict-correction-sent" className="text-muted-foreground">{s.sent}</div> : null}
    </form>
  );
}
