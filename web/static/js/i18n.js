// i18n: the English and Korean text of every page, and how a page picks
// its language (saved choice, then the browser's languages, then English).
// Pure module: no DOM access except through the arguments given.

export const LANGS = ['en', 'ko'];

const STORE_KEY = 'votecast.lang';

export const TEXT = {
  en: {
    switchTo: 'Language',
    // viewer and widget
    loading: 'Loading the poll…',
    notFound: 'This poll does not exist.',
    loadFailed: 'Could not load the poll. Trying again…',
    stateDraft: 'Not open yet',
    stateOpen: 'Live',
    stateClosing: 'Closing',
    stateClosed: 'Closed',
    draftNote: 'Voting has not started yet. This page updates by itself.',
    offline: 'Connection lost. Reconnecting…',
    sending: 'Sending…',
    waiting: 'Waiting for the connection…',
    counted: 'Counted ✓',
    alreadyVoted: 'Already voted',
    noVotesLeft: 'No votes left',
    votingClosed: 'Voting closed',
    invalid: 'That choice was not accepted',
    retryIn: 'Busy. Trying again in {n} s',
    votesLeft: '{n} of {total} votes left',
    yourVote: 'Your vote',
    yourVotes: 'Your votes: {n}',
    takeBack: 'Take one vote back from {option}',
    hiddenNote: 'Results are shown when voting closes.',
    totalVotes: '{n} votes',
    totalVote1: '1 vote',
    announce: 'Results: {list}. {n} votes in total.',
    announceHidden: 'Voting closed.',
    finalResults: 'Final results',
    // a counted vote's receipt (its number in the poll's log)
    receipt: 'Your vote is #{n}',
    receipts: 'Your votes are {list}',
    checkVote: 'Check your vote in the results certificate',
    checkVoteN: 'Check vote #{n} in the results certificate',
    // a giveaway: the first entries (on the right answer, for a quiz) win
    gwBadge: 'Giveaway',
    gwPrizes: '{n} prizes to win',
    gwPrize1: '1 prize to win',
    gwLeft: '{n} of {total} prizes left',
    gwLeftOf1: '{n} of 1 prize left',
    gwBar: 'Prizes won so far',
    gwSoldOut: 'Sold out',
    gwAnswer: 'Right answer: {option}',
    gwRight: 'Right answer',
    gwEntered: 'You are in. You will know here as soon as every prize is won or the giveaway closes.',
    gwWon: 'You won!',
    gwWonRank: 'You won! (prize #{n})',
    gwLost: 'Not this time',
    gwClaimShow: 'Show my claim code',
    gwClaimLoading: 'Getting your claim code…',
    gwClaimUndecided: 'The winners are being confirmed. Trying again…',
    gwClaimFailed: 'Could not get your claim code ({status}). Press the button to try again.',
    gwNetwork: 'no connection',
    gwClaimLabel: 'Your claim code',
    gwClaimHelp: 'Give this code where you claim your prize. It is yours alone: do not share it.',
    gwCopy: 'Copy',
    gwCopied: 'Copied',
    // the waiting room (viewer and widget)
    queueTitle: 'Lots of viewers right now: you are in line',
    queuePlace: 'You are number {n} in line',
    queueTurn: 'Your turn: connecting…',
    queueIn: 'Your turn has come: you are connected.',
    queueVoteNote: 'Your vote counts even while you wait.',
    queueEarly: 'You are in line for when the poll opens',
    queueEarlyDraw: 'places are drawn at random at the opening, so there is no need to refresh',
    queueProgress: 'Progress in line',
    waitSeconds: 'about {n} s',
    waitUnderMinute: 'less than a minute',
    waitMinute1: 'about 1 minute',
    waitMinutes: 'about {n} minutes',
    waitHours: 'more than an hour',
    waitUnknown: 'the line is not moving right now',
    // index
    openPolls: 'Open polls',
    noOpenPolls: 'No poll is open right now.',
    refresh: 'Refresh',
    listFailed: 'Could not load the polls.',
  },
  ko: {
    switchTo: '언어',
    loading: '투표를 불러오는 중…',
    notFound: '존재하지 않는 투표입니다.',
    loadFailed: '투표를 불러오지 못했습니다. 다시 시도하는 중…',
    stateDraft: '시작 전',
    stateOpen: '진행 중',
    stateClosing: '마감 중',
    stateClosed: '마감',
    draftNote: '아직 투표가 시작되지 않았습니다. 시작되면 이 화면이 자동으로 바뀝니다.',
    offline: '연결이 끊겼습니다. 다시 연결하는 중…',
    sending: '보내는 중…',
    waiting: '연결을 기다리는 중…',
    counted: '투표 완료 ✓',
    alreadyVoted: '이미 투표하셨습니다',
    noVotesLeft: '남은 표가 없습니다',
    votingClosed: '투표가 마감되었습니다',
    invalid: '선택이 받아들여지지 않았습니다',
    retryIn: '요청이 많습니다. {n}초 후 다시 보냅니다',
    votesLeft: '{total}표 중 {n}표 남음',
    yourVote: '내 선택',
    yourVotes: '내 표: {n}',
    takeBack: '{option}에서 한 표 취소',
    hiddenNote: '결과는 투표가 마감된 뒤 공개됩니다.',
    totalVotes: '총 {n}표',
    totalVote1: '총 1표',
    announce: '결과: {list}. 총 {n}표.',
    announceHidden: '투표가 마감되었습니다.',
    finalResults: '최종 결과',
    receipt: '내 표는 #{n}번입니다',
    receipts: '내 표 번호: {list}',
    checkVote: '결과 인증서에서 내 표 확인하기',
    checkVoteN: '결과 인증서에서 #{n}번 표 확인하기',
    gwBadge: '경품 이벤트',
    gwPrizes: '경품 {n}개',
    gwPrize1: '경품 1개',
    gwLeft: '경품 {total}개 중 {n}개 남음',
    gwLeftOf1: '경품 1개 중 {n}개 남음',
    gwBar: '지금까지 당첨된 경품',
    gwSoldOut: '선착순 마감',
    gwAnswer: '정답: {option}',
    gwRight: '정답',
    gwEntered: '응모되었습니다. 경품이 모두 소진되거나 이벤트가 끝나면 여기에서 바로 결과를 알려 드립니다.',
    gwWon: '당첨되었습니다!',
    gwWonRank: '당첨되었습니다! (경품 #{n})',
    gwLost: '아쉽지만 이번에는 당첨되지 않았습니다',
    gwClaimShow: '수령 코드 보기',
    gwClaimLoading: '수령 코드를 가져오는 중…',
    gwClaimUndecided: '당첨자를 확정하는 중입니다. 다시 시도하는 중…',
    gwClaimFailed: '수령 코드를 가져오지 못했습니다({status}). 버튼을 눌러 다시 시도하세요.',
    gwNetwork: '연결 없음',
    gwClaimLabel: '내 수령 코드',
    gwClaimHelp: '경품을 받을 때 이 코드를 입력하세요. 본인만 쓸 수 있으니 다른 사람에게 알려 주지 마세요.',
    gwCopy: '복사',
    gwCopied: '복사했습니다',
    queueTitle: '지금 시청자가 많아 순서를 기다리는 중입니다',
    queuePlace: '{n}번째로 기다리는 중',
    queueTurn: '차례가 되었습니다. 연결하는 중…',
    queueIn: '차례가 되어 연결되었습니다.',
    queueVoteNote: '기다리는 동안 한 투표도 그대로 집계됩니다.',
    queueEarly: '투표가 열리기를 기다리는 중입니다',
    queueEarlyDraw: '순서는 투표가 열릴 때 무작위로 정해지니 새로고침하지 않아도 됩니다',
    queueProgress: '대기 진행 상황',
    waitSeconds: '약 {n}초',
    waitUnderMinute: '1분 이내',
    waitMinute1: '약 1분',
    waitMinutes: '약 {n}분',
    waitHours: '1시간 이상',
    waitUnknown: '지금은 줄이 움직이지 않습니다',
    openPolls: '진행 중인 투표',
    noOpenPolls: '지금 진행 중인 투표가 없습니다.',
    refresh: '새로 고침',
    listFailed: '투표 목록을 불러오지 못했습니다.',
  },
};

// addText adds a page's own strings (the dashboard's) to the table.
export function addText(table) {
  for (const l of LANGS) Object.assign(TEXT[l], table[l]);
}

// pickLang chooses the page language: a valid saved choice wins, then the
// first of the browser's languages we have, then English.
export function pickLang(saved, browserLangs = []) {
  if (LANGS.includes(saved)) return saved;
  for (const l of browserLangs) {
    const base = String(l).toLowerCase().split('-')[0];
    if (LANGS.includes(base)) return base;
  }
  return 'en';
}

// translate returns the text for key in lang with {name} placeholders
// filled from params; a key missing in lang falls back to English, then to
// the key itself, so a gap shows up as a readable word, never a crash.
export function translate(lang, key, params) {
  const s = (TEXT[lang] && TEXT[lang][key]) ?? TEXT.en[key] ?? key;
  if (!params) return s;
  return s.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

// Locale is a page's current language with a change listener. storage is
// localStorage or null (private modes may throw on access).
export class Locale {
  constructor({ storage = null, browserLangs = [], forced = '' } = {}) {
    this.storage = storage;
    let saved = '';
    try { saved = storage ? storage.getItem(STORE_KEY) : ''; } catch { /* storage blocked */ }
    this.lang = pickLang(forced || saved, browserLangs);
    this.listeners = [];
  }

  t(key, params) { return translate(this.lang, key, params); }

  set(lang) {
    if (!LANGS.includes(lang) || lang === this.lang) return;
    this.lang = lang;
    try { this.storage && this.storage.setItem(STORE_KEY, lang); } catch { /* storage blocked */ }
    for (const f of this.listeners) f(lang);
  }

  // other is the language the switch button offers.
  other() { return this.lang === 'en' ? 'ko' : 'en'; }

  onChange(f) { this.listeners.push(f); }
}
