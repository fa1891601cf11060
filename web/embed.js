// Embed a live blog on another site:
//   <script src="https://live.example.com/embed.js" data-blog="SLUG" async></script>
// It adds an iframe of the blog that grows with its content.
(() => {
  const script = document.currentScript;
  if (!script || !script.dataset.blog) return;
  const origin = new URL(script.src).origin;
  const frame = document.createElement("iframe");
  frame.src = `${origin}/blogs/${encodeURIComponent(script.dataset.blog)}`;
  frame.title = script.dataset.title || "Live updates";
  frame.loading = "lazy";
  frame.style.cssText = "display:block;width:100%;border:0;min-height:480px";
  script.after(frame);
  window.addEventListener("message", (message) => {
    if (message.origin !== origin || message.source !== frame.contentWindow) return;
    const data = message.data;
    if (data && data.type === "liveupdates:height" && Number.isFinite(data.height)) {
      frame.style.height = `${Math.ceil(data.height)}px`;
    }
  });
})();
