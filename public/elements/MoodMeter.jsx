// The customer's mood, shown in the side panel and updated after each grade.
// Props (set by bot/web/chat_view.py, mood_props): mood, max, band, label, colour, delta,
// reason, history (moods so far), historyColours (one a mood), calmAt, walkoutAt, title,
// scaleLow, scaleHigh, pending (a reply is being graded: the mood shown is the one
// before it) and pendingText. The label and colours follow the persona's temperament (bot/mood.py).
export default function MoodMeter() {
  const mood = props.mood ?? 0;
  const max = props.max ?? 10;
  const pct = Math.round((mood / max) * 100);
  const colour = props.colour ?? "#7d6000";
  const history = props.history ?? [];
  const delta = props.delta ?? 0;
  const sign = delta > 0 ? `+${delta}` : `${delta}`;
  return (
    <div id="mood-meter" data-mood={mood} data-pending={props.pending ? "true" : "false"} data-max={max} data-label={props.label} data-colour={colour} data-note={props.pending ? props.pendingText : (props.reason ? `${delta === 0 ? "±0" : sign}: ${props.reason}` : "")} className="flex flex-col gap-2 p-2 text-sm" style={{ opacity: props.pending ? 0.6 : 1 }}>
      <div className="flex items-baseline gap-2">
        <span className="text-3xl font-bold" style={{ color: colour }}>{mood}</span>
        <span className="text-muted-foreground">/ {max}</span>
        <span className="ml-auto rounded px-2 py-0.5" style={{ background: colour, color: "white" }}>{props.label}</span>
      </div>
      <div className="h-3 w-full rounded bg-muted" aria-label={`${props.title}: ${mood}/${max}`}>
        <div className="h-3 rounded" style={{ width: `${pct}%`, background: colour, transition: "width .4s" }} />
      </div>
      <div className="flex justify-between text-xs text-muted-foreground">
        <span>{props.scaleLow}</span><span>{props.scaleHigh}</span>
      </div>
      {props.pending ? (
        <div id="mood-pending" className="text-xs text-muted-foreground" aria-live="polite">{props.pendingText}</div>
      ) : null}
      {props.reason && !props.pending ? (
        <div id="mood-delta" className="text-sm">
          <span className="font-semibold">{delta === 0 ? "±0" : sign}</span>: {props.reason}
        </div>
      ) : null}
      {history.length > 1 ? (
        <div className="flex items-end gap-1 h-10" title={history.join(" → ")}>
          {history.map((m, i) => (
            <div key={i} className="w-2 rounded-sm" style={{ height: `${Math.max(8, (m / max) * 100)}%`, background: (props.historyColours ?? [])[i] ?? colour }} />
          ))}
        </div>
      ) : null}
    </div>
  );
}
