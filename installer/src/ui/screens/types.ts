import type { SetupState } from '../../steps/context.js';

export interface ScreenProps {
  state: SetupState;
  /** Done with this screen (answers are in state.answers). */
  onNext(): void;
  onBack(): void;
}
