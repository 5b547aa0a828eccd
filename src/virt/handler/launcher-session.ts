/**
 * The VirtHandler's live link to one launcher's QEMU: a QMP connection kept open for its events
 * (STOP, RESUME, SHUTDOWN keep the VMI's Paused condition current without polling), and a
 * guest-agent probe every few seconds (AgentConnected, guestOSInfo, the guest's interfaces).
 * Holds no state a restart would need: a new agent reconnects and reads everything again.
 */
import { EventEmitter } from 'node:events';
import { GuestAgentClient, type GuestInterface, type GuestOsInfo } from '../qemu/guest-agent-client.js';
import { QmpClient } from '../qemu/qmp-client.js';

export interface GuestAgentInfo {
  osInfo?: GuestOsInfo;
  hostname?: string;
  interfaces?: GuestInterface[];
}

export interface SessionState {
  /** QEMU's run state (`running`, `paused`, `shutdown`, `prelaunch`, ...). */
  runState: string;
  /** Paused by a user (QMP stop), not by QEMU itself (e.g. during migration). */
  userPaused: boolean;
  agent?: GuestAgentInfo;
}

const AGENT_POLL_MS = 5_000;
const AGENT_TIMEOUT_MS = 2_000;

export class LauncherSession extends EventEmitter {
  private runState = 'unknown';
  private userPaused = false;
  private agent?: GuestAgentInfo;
  private agentTimer?: NodeJS.Timeout;
  private closed = false;
  poweredDown = false;

  private constructor(
    /** The one QMP connection to this QEMU (a migration runs its commands on it too). */
    readonly qmp: QmpClient,
    private readonly guestAgentSocket: string,
  ) {
    super();
  }

  /** Connects (QEMU must be up: callers retry until the socket answers). Emits `change` on every state change and `closed` once. */
  static async connect(qmpSocket: string, guestAgentSocket: string): Promise<LauncherSession> {
    const qmp = await QmpClient.connect(qmpSocket, { connectTimeoutMs: 5_000, commandTimeoutMs: 10_000 });
    const s = new LauncherSession(qmp, guestAgentSocket);
    qmp.on('event', (e: { event: string }) => {
      // MIGRATION: a migration's end moves the run state without a STOP or RESUME (a paused guest arriving).
      if (e.event === 'STOP' || e.event === 'RESUME' || e.event === 'SHUTDOWN' || e.event === 'RESET' || e.event === 'MIGRATION') void s.refresh();
    });
    qmp.once('close', () => s.close());
    await s.refresh();
    s.pollAgent();
    return s;
  }

  state(): SessionState {
    return { runState: this.runState, userPaused: this.userPaused, ...(this.agent ? { agent: this.agent } : {}) };
  }

  async pause(): Promise<void> {
    this.userPaused = true;
    await this.qmp.stop();
    await this.refresh();
  }

  async unpause(): Promise<void> {
    await this.qmp.cont();
    this.userPaused = false;
    await this.refresh();
  }

  /** A guest a user paused on the migration source arrives paused here: that is still the user's pause. */
  async adoptUserPause(): Promise<void> {
    await this.refresh();
    if (this.runState === 'paused') this.userPaused = true;
  }

  /** Presses the ACPI power button (once per session): the guest shuts down and QEMU exits. */
  async powerdown(): Promise<void> {
    if (this.poweredDown) return;
    this.poweredDown = true;
    // A paused guest cannot react to the button.
    if (this.runState === 'paused') await this.qmp.cont().catch(() => undefined);
    await this.qmp.systemPowerdown();
  }

  /** Ends QEMU at once (a source whose guest now runs on the migration target). */
  async quit(): Promise<void> {
    await this.qmp.quit();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.agentTimer);
    this.qmp.close();
    this.emit('closed');
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private async refresh(): Promise<void> {
    try {
      const st = await this.qmp.queryStatus();
      // QEMU started with -S (startStrategy Paused) is paused by the user's request too.
      if (st.status === 'prelaunch') this.userPaused = true;
      if (st.status !== this.runState) {
        this.runState = st.status;
        this.emit('change');
      }
    } catch {
      /* closed: the close handler reports it */
    }
  }

  private pollAgent(): void {
    const tick = async () => {
      let info: GuestAgentInfo | undefined;
      let ga: GuestAgentClient | undefined;
      try {
        ga = await GuestAgentClient.connect(this.guestAgentSocket, { timeoutMs: AGENT_TIMEOUT_MS });
        info = { osInfo: await ga.osInfo(), hostname: await ga.hostName(), interfaces: await ga.networkInterfaces() };
      } catch {
        info = undefined;
      } finally {
        ga?.close();
      }
      if (this.closed) return;
      if (JSON.stringify(info) !== JSON.stringify(this.agent)) {
        this.agent = info;
        this.emit('change');
      }
      this.agentTimer = setTimeout(() => void tick(), AGENT_POLL_MS);
    };
    this.agentTimer = setTimeout(() => void tick(), 1_000);
  }
}
