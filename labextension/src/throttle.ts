/** Run a callback at most once per interval, however often it is asked for. */
export class Throttle {
  /**
   * @param _run what to run
   * @param _intervalMs the interval, read at each call (settings change live)
   */
  constructor(
    private readonly _run: () => void,
    private readonly _intervalMs: () => number
  ) {}

  /** Run soon: now if the interval has passed since the last run, else when it has. */
  schedule(): void {
    if (this._timer !== null || this._disposed) {
      return;
    }
    const wait = Math.max(0, this._last + this._intervalMs() - Date.now());
    this._timer = setTimeout(() => {
      this._timer = null;
      if (this._disposed) {
        return;
      }
      this._last = Date.now();
      this._run();
    }, wait);
  }

  dispose(): void {
    this._disposed = true;
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _last = 0;
  private _disposed = false;
}
